package groups

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkajsConsumerGroup: a kafkajs 2.2.4 consumer group member (its own JoinGroup,
// SyncGroup, OffsetCommit and OffsetFetch versions) consumes a topic, commits and leaves;
// a second member of the group resumes after the committed offsets.
func TestKafkajsConsumerGroup(t *testing.T) {
	const partitions = 3
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("cannot find node on PATH: %v; run scripts/test-deps.sh to install the test dependencies", err)
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	modules := filepath.Join(dir, "..", "compat", "kafkajs", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
		t.Fatalf("cannot find kafkajs in %s: %v; run scripts/test-deps.sh to install the test dependencies", modules, err)
	}
	b := startBroker(t)
	topic, group := uniqueName("kafkajs"), uniqueName("g-kafkajs")
	createTopic(t, b.Addr, topic, partitions)
	// kafkajs reads no snappy, franz-go's default compression.
	prod := newClient(t, b.Addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	hw := produce(t, prod, topic, partitions, 0, 150)

	consume := func(expect int) [][2]int64 {
		t.Helper()
		job, _ := json.Marshal(map[string]any{"bootstrap": b.Addr, "topic": topic, "group": group, "expect": expect, "timeoutS": 45})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "kafkajs", "consumer.js"))
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		cmd.Stdin = bytes.NewReader(job)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kafkajs consumer failed: %v\nstderr:\n%s", err, stderr.Bytes())
		}
		var out struct {
			Seen [][2]int64 `json:"seen"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("cannot parse the kafkajs consumer's output %q: %v", stdout.Bytes(), err)
		}
		return out.Seen
	}
	s := newSeen()
	for _, r := range consume(150) {
		s.add(int32(r[0]), r[1])
	}
	if miss := s.missing(hw); len(miss) != 0 {
		t.Fatalf("kafkajs missed offsets %v", miss)
	}
	waitCommitted(t, b.Addr, group, topic, partitions, hw)
	for p, n := range produce(t, prod, topic, partitions, 150, 15) {
		hw[p] += n
	}
	for _, r := range consume(15) {
		if r[1] < 50 {
			t.Fatalf("second kafkajs member read partition %d offset %d, already committed", r[0], r[1])
		}
	}
	waitCommitted(t, b.Addr, group, topic, partitions, hw)
}
