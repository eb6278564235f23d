package groups

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// pythonGroupRun is what python/group_consumer.py prints.
type pythonGroupRun struct {
	Seen []struct {
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		Value     string `json:"value"`
	} `json:"seen"`
	EOF []struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
	} `json:"eof"`
	Committed []struct {
		Partition int32   `json:"partition"`
		Offset    int64   `json:"offset"`
		Error     *string `json:"error"`
	} `json:"committed"`
	Errors []string `json:"errors"`
}

// TestPythonConfluentKafkaConsumerGroup: a confluent-kafka 1.7 (librdkafka 2.0.2) member
// subscribes in a group, reads a 4-partition topic to the end, commits synchronously and
// closes; the group's committed offsets are then the end offsets, and a second member of
// the group resumes there and reads nothing.
func TestPythonConfluentKafkaConsumerGroup(t *testing.T) {
	const (
		partitions = 4
		n          = 400
	)
	python := kafkatest.DebianPython(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "python", "group_consumer.py")
	b := startBroker(t)
	topic, group := uniqueName("python"), uniqueName("g-python")
	createTopic(t, b.Addr, topic, partitions)
	produce(t, producer(t, b.Addr), topic, partitions, 0, n)
	admin := newClient(t, b.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	end, err := kafkatest.EndOffsets(ctx, admin, topic, partitions)
	if err != nil {
		t.Fatal(err)
	}

	consume := func() pythonGroupRun {
		t.Helper()
		job, err := json.Marshal(map[string]any{
			"bootstrap": b.Addr, "topic": topic, "partitions": partitions, "group": group, "timeout_s": 45,
		})
		if err != nil {
			t.Fatalf("BUG: cannot encode job: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, script)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		cmd.WaitDelay = 5 * time.Second // librdkafka threads holding stdout must not outlive a kill
		cmd.Stdin = bytes.NewReader(job)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("group_consumer.py failed: %v (context: %v)\nstderr:\n%s", err, ctx.Err(), stderr.Bytes())
		}
		var run pythonGroupRun
		if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
			t.Fatalf("cannot parse group_consumer.py output %q: %v", stdout.Bytes(), err)
		}
		t.Logf("group_consumer.py read %d records in %s", len(run.Seen), time.Since(start).Round(time.Millisecond))
		if len(run.Errors) > 0 {
			t.Fatalf("group_consumer.py reports errors:\n  %s\nstderr:\n%s", strings.Join(run.Errors, "\n  "), stderr.Bytes())
		}
		for _, e := range run.EOF {
			if e.Offset != end[e.Partition] {
				t.Errorf("group_consumer.py ended partition %d at offset %d, want the end offset %d", e.Partition, e.Offset, end[e.Partition])
			}
		}
		for _, c := range run.Committed {
			if c.Error != nil {
				t.Errorf("commit of partition %d offset %d failed: %s", c.Partition, c.Offset, *c.Error)
			}
		}
		return run
	}

	first := consume()
	s := newSeen()
	for _, r := range first.Seen {
		// produce wrote record i to partition i%partitions, in order.
		if want := fmt.Sprintf("v%d", r.Offset*partitions+int64(r.Partition)); r.Value != want {
			t.Errorf("partition %d offset %d holds %q, want %q", r.Partition, r.Offset, r.Value, want)
		}
		s.add(r.Partition, r.Offset)
	}
	if miss := s.missing(end); len(miss) != 0 {
		t.Fatalf("group_consumer.py read %d distinct records of %d, missed offsets %v", s.total(), n, miss)
	}
	if s.total() != n {
		t.Fatalf("group_consumer.py read %d distinct records, want %d", s.total(), n)
	}
	if got := committed(t, admin, group, topic, partitions); !maps.Equal(got, end) {
		t.Fatalf("after the synchronous commit and close, the group's committed offsets are %v, want the end offsets %v", got, end)
	}

	second := consume()
	if len(second.Seen) != 0 {
		r := second.Seen[0]
		t.Fatalf("second run of the group read %d records (first: partition %d offset %d), want none: all were committed", len(second.Seen), r.Partition, r.Offset)
	}
	if got := committed(t, admin, group, topic, partitions); !maps.Equal(got, end) {
		t.Fatalf("after the second run, the group's committed offsets are %v, want the end offsets %v", got, end)
	}
}
