// Package jvmtest runs Apache Kafka's Java client, as JVM users run it, against KafScale
// (issue 15). The Java programs live under clients/src; scripts/test-deps.sh copies their
// dependencies into the project's cache folder for each kafka-clients version tested.
package jvmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// kafkaClientVersions are the kafka-clients versions tested: the newest 4.x Maven Central
// serves and the last 3.x. scripts/test-deps.sh installs the same list.
var kafkaClientVersions = []string{"4.4.0", "3.9.2"}

// clientsMain is the Java test program (clients/src/main/java/io/kafscale/jvmtest).
const clientsMain = "io.kafscale.jvmtest.Clients"

// compileClients compiles the Java test program against kafka-clients version v.
func compileClients(t *testing.T, v string) string {
	t.Helper()
	return jvm.Compile(t, "clients/src", jvm.Deps(t, "clients-"+v))
}

// TestJavaClient runs the Java client's scenarios with its default configuration against
// `kafscale dev` (issue 15, acceptance 1), each kafka-clients version in one JVM: the user
// guide's producer and consumer without enable.idempotence=false (idempotent, acks=all),
// a producer per codec (gzip, snappy, lz4, zstd), groups of two members with
// group.protocol=classic and group.protocol=consumer (KIP-848) through a rebalance with
// committed offsets, and the AdminClient calls a cluster answers.
func TestJavaClient(t *testing.T) {
	p := testbroker.Start(t)
	t.Run("versions", func(t *testing.T) {
		for _, v := range kafkaClientVersions {
			t.Run("kafka-clients-"+v, func(t *testing.T) {
				t.Parallel()
				cp := compileClients(t, v)
				run := "v" + strings.ReplaceAll(v, ".", "")
				stdout, stderr := jvm.Run(t, jvm.Command(t, cp, clientsMain, p.Addr, run, "all"), 4*time.Minute)
				jvm.Check(t, stdout, stderr, "guide", "codecs", "group-classic", "group-consumer", "admin")
			})
		}
	})
	// Each group protocol was really used: the classic one joins with JoinGroup, KIP-848's
	// heartbeats with ConsumerGroupHeartbeat.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	text, err := kafkatest.ScrapeMetrics(ctx, p.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []string{"JoinGroup", "SyncGroup", "ConsumerGroupHeartbeat", "OffsetCommit", "InitProducerId"} {
		if n := kafkatest.MetricSample(text, fmt.Sprintf(`kafscale_requests_total{api=%q}`, api)); n == 0 {
			t.Errorf("the broker served no %s request", api)
		}
	}
}

// TestJavaConsumerValidatesPositionAfterLeaderChange guards issue 12's acceptance 3 with
// the Java client: a consumer reading a three-partition topic of `kafscale dev --brokers 3`
// from the beginning is paused halfway; the broker leading one of the partitions is
// drained (its partition moves, at a new leader epoch); the consumer then validates its
// positions with OffsetForLeaderEpoch (KIP-320) and reads every offset once, in order,
// with auto.offset.reset=none (a failed validation would be an error, not a silent reset).
func TestJavaConsumerValidatesPositionAfterLeaderChange(t *testing.T) {
	const topic, partitions, records = "follow", 3, 600
	p := testbroker.StartDevCluster(t, 3, "--flush-interval", "20ms")
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	// Small batches, and fetches of one batch (max.partition.fetch.bytes=1 in the Java
	// program): the consumer cannot have prefetched the rest before the leader moves.
	kafkatest.ProduceSync(t, kafkatest.NewIdempotentProducer(t, p.Addr, kgo.ProducerBatchMaxBytes(512)), ackcheck.NewLedger(), topic, partitions, "f", records)
	cp := compileClients(t, kafkaClientVersions[0])

	cmd := jvm.Command(t, cp, clientsMain, p.Addr, "follow", "follow-leader", topic, fmt.Sprint(records), fmt.Sprint(records/2))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start java: %v", err)
	}
	timer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	paused := make(chan struct{})
	var stdout strings.Builder
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdoutPipe)
		once := sync.Once{}
		for sc.Scan() {
			stdout.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "PAUSED") {
				once.Do(func() { close(paused) })
			}
		}
	}()
	select {
	case <-paused:
	case <-copied:
		_ = cmd.Wait()
		t.Fatalf("the Java consumer exited before pausing:\n%s\n%s", stdout.String(), stderr.Tail(8<<10))
	case <-time.After(90 * time.Second):
		t.Fatalf("the Java consumer did not pause within 90 s:\n%s", stderr.Tail(8<<10))
	}

	var drained struct {
		PartitionsMoved int32 `json:"partitions_moved"`
	}
	drain(t, p.MetricsAddrOf(0), &drained, "--broker-id", "1")
	if drained.PartitionsMoved == 0 {
		t.Fatalf("broker 1 led no partition of the cluster: nothing moved")
	}
	if _, err := io.WriteString(stdin, "GO\n"); err != nil {
		t.Fatal(err)
	}
	<-copied
	_ = cmd.Wait()
	jvm.Check(t, stdout.String(), stderr.Tail(64<<10), "follow-leader")

	var validations float64
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		text, err := kafkatest.ScrapeMetrics(ctx, p.MetricsAddrOf(i))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		validations += kafkatest.MetricSample(text, `kafscale_requests_total{api="OffsetForLeaderEpoch"}`)
	}
	if validations == 0 {
		t.Errorf("no broker served an OffsetForLeaderEpoch request: the Java consumer did not validate its position after the leader change")
	}
	t.Logf("the Java consumer sent %v OffsetForLeaderEpoch requests after broker 1's %d partition(s) moved", validations, drained.PartitionsMoved)
}

// drain runs `kafscale broker drain --admin admin --output json args...` and decodes its
// answer into out.
func drain(t *testing.T, admin string, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbroker.Binary(t), append([]string{"broker", "drain", "--admin", admin, "--output", "json"}, args...)...)
	var errb strings.Builder
	cmd.Stderr = &errb
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("kafscale broker drain %v: %v: %s", args, err, errb.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("kafscale broker drain printed %q: %v", b, err)
	}
}
