package kafkacli

// Apache Kafka's admin tools that read the cluster through the admin APIs of issue 14,
// acceptance 1: kafka-log-dirs (DescribeCluster, DescribeLogDirs), kafka-topics --describe
// (DescribeTopicPartitions) and kafka-leader-election (ElectLeaders). Helpers here are
// prefixed admin: other tests of the package have their own.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// adminRun runs Apache Kafka's tool with args (killed after two minutes) and returns its
// standard output, standard error and exit code.
func adminRun(t *testing.T, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := jvm.KafkaCommand(t, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", name, err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// adminRunOK runs the tool, fails the test unless it exits 0, and returns its output.
func adminRunOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, code := adminRun(t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s exited %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// adminProduce writes n uncompressed records of size bytes to partition p of topic.
func adminProduce(t *testing.T, addr, topic string, p int32, n, size int) {
	t.Helper()
	cl := kafkatest.NewNonIdempotentProducer(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: bytes.Repeat([]byte{'v'}, size)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("cannot produce to %s/%d: %v", topic, p, err)
		}
	}
}

// adminLogDirs is kafka-log-dirs --describe's JSON line.
type adminLogDirs struct {
	Version int `json:"version"`
	Brokers []struct {
		Broker  int32 `json:"broker"`
		LogDirs []struct {
			LogDir     string  `json:"logDir"`
			Error      *string `json:"error"`
			Partitions []struct {
				Partition string `json:"partition"`
				Size      int64  `json:"size"`
				OffsetLag int64  `json:"offsetLag"`
				IsFuture  bool   `json:"isFuture"`
			} `json:"partitions"`
		} `json:"logDirs"`
	} `json:"brokers"`
}

// TestAdminLogDirsDescribe: kafka-log-dirs --describe against a two-broker cluster finds
// both brokers (DescribeCluster), and each lists one log directory, the object store's, with
// the partitions it leads and their stored sizes (DescribeLogDirs).
func TestAdminLogDirsDescribe(t *testing.T) {
	p := testbroker.StartDevCluster(t, 2)
	topic := "admin-log-dirs"
	kafkatest.CreateTopic(t, p.Addr, topic, 4)
	adminProduce(t, p.Addr, topic, 0, 20, 100)

	out := adminRunOK(t, "kafka-log-dirs", "--bootstrap-server", p.Addr, "--describe", "--topic-list", topic)
	if !strings.Contains(out, "Received log directory information from brokers 0,1") {
		t.Errorf("kafka-log-dirs did not hear from brokers 0 and 1:\n%s", out)
	}
	var line string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "{") {
			line = l
		}
	}
	var dirs adminLogDirs
	if err := json.Unmarshal([]byte(line), &dirs); err != nil {
		t.Fatalf("kafka-log-dirs printed no JSON line (%v):\n%s", err, out)
	}
	if len(dirs.Brokers) != 2 {
		t.Fatalf("kafka-log-dirs lists %d brokers, want 2:\n%s", len(dirs.Brokers), out)
	}
	sizes := make(map[string]int64)
	for _, b := range dirs.Brokers {
		if len(b.LogDirs) != 1 {
			t.Fatalf("broker %d lists %d log dirs, want 1", b.Broker, len(b.LogDirs))
		}
		d := b.LogDirs[0]
		if d.Error != nil || !strings.HasPrefix(d.LogDir, "file:///") {
			t.Errorf("broker %d: log dir %q error %v; want the object store's URL and no error", b.Broker, d.LogDir, d.Error)
		}
		for _, p := range d.Partitions {
			if _, dup := sizes[p.Partition]; dup {
				t.Errorf("partition %s listed by two brokers", p.Partition)
			}
			sizes[p.Partition] = p.Size
			if p.OffsetLag != 0 || p.IsFuture {
				t.Errorf("%s: offset lag %d future %t", p.Partition, p.OffsetLag, p.IsFuture)
			}
		}
	}
	for i := range 4 {
		if _, ok := sizes[fmt.Sprintf("%s-%d", topic, i)]; !ok {
			t.Errorf("no broker lists %s-%d: %v", topic, i, sizes)
		}
	}
	// 20 records of 100-byte values, in at least one batch: over 2000 bytes stored.
	if s := sizes[topic+"-0"]; s < 2000 {
		t.Errorf("%s-0 size %d after 20 records of 100 bytes, want at least 2000", topic, s)
	}
	if s := sizes[topic+"-1"]; s != 0 {
		t.Errorf("%s-1 (empty) size %d, want 0", topic, s)
	}
}

// TestAdminTopicsDescribe: kafka-topics --describe (DescribeTopicPartitions in Kafka 4's
// admin client) prints each partition with its leader as replica and ISR, and fails for a
// topic that does not exist.
func TestAdminTopicsDescribe(t *testing.T) {
	p := testbroker.Start(t)
	topic := "admin-topics-describe"
	kafkatest.CreateTopic(t, p.Addr, topic, 3)

	out := adminRunOK(t, "kafka-topics", "--bootstrap-server", p.Addr, "--describe", "--topic", topic)
	patterns := []string{`^Topic: ` + topic + `\tTopicId: \S{22}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: `}
	for i := range 3 {
		patterns = append(patterns, fmt.Sprintf(`^\tTopic: %s\tPartition: %d\tLeader: 0\tReplicas: 0\tIsr: 0\tElr: \tLastKnownElr: $`, topic, i))
	}
	for _, pat := range patterns {
		if !regexp.MustCompile(`(?m)` + pat).MatchString(out) {
			t.Errorf("kafka-topics --describe: no line matches %q in:\n%s", pat, out)
		}
	}

	// Every topic (no --topic) pages through DescribeTopicPartitions too.
	if all := adminRunOK(t, "kafka-topics", "--bootstrap-server", p.Addr, "--describe"); !strings.Contains(all, "Topic: "+topic+"\tPartition: 2\t") {
		t.Errorf("kafka-topics --describe of every topic lacks %s-2:\n%s", topic, all)
	}

	out, errOut, code := adminRun(t, "kafka-topics", "--bootstrap-server", p.Addr, "--describe", "--topic", "admin-no-such-topic")
	if code == 0 || !strings.Contains(out+errOut, "does not exist") {
		t.Errorf("kafka-topics --describe of a missing topic exited %d, want non-zero and \"does not exist\":\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestAdminLeaderElection: kafka-leader-election finds nothing to elect, as against a Kafka
// cluster whose partitions all have their preferred leader: for every partition it prints
// nothing and exits 0; for a named partition it says a valid replica is already elected;
// an unknown partition fails.
func TestAdminLeaderElection(t *testing.T) {
	p := testbroker.Start(t)
	topic := "admin-leader-election"
	kafkatest.CreateTopic(t, p.Addr, topic, 2)

	if out := adminRunOK(t, "kafka-leader-election", "--bootstrap-server", p.Addr, "--election-type", "preferred", "--all-topic-partitions"); strings.TrimSpace(out) != "" {
		t.Errorf("kafka-leader-election --all-topic-partitions printed %q, want nothing (no election needed)", out)
	}
	out := adminRunOK(t, "kafka-leader-election", "--bootstrap-server", p.Addr, "--election-type", "preferred", "--topic", topic, "--partition", "1")
	if want := "Valid replica already elected for partitions " + topic + "-1"; !strings.Contains(out, want) {
		t.Errorf("kafka-leader-election of %s-1 printed %q, want %q", topic, out, want)
	}
	out, errOut, _ := adminRun(t, "kafka-leader-election", "--bootstrap-server", p.Addr, "--election-type", "unclean", "--topic", "admin-no-such-topic", "--partition", "0")
	if !strings.Contains(out+errOut, "UnknownTopicOrPartitionException") {
		t.Errorf("kafka-leader-election of an unknown partition did not report UnknownTopicOrPartitionException:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
}
