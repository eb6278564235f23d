package s3

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestNewIncarnationFencesAZombie: a second `kafscale broker` with the same broker id on
// the same etcd and bucket (a replacement pod while the old one still runs) registers a
// new incarnation, which bumps the broker's fence. The old process must not acknowledge
// anything from then on, and (issue 18, scenario 2) must not serve reads either: it kept
// its own lease, so it never saw its session lost, and went on answering Fetch and
// ListOffsets with its old high watermark to any client that sent no leader epoch, while
// its GC kept deleting (and could delete the new incarnation's objects/ entries). It must
// learn it was replaced, stop serving and deleting, and exit with an error. The new
// incarnation takes the partitions over, so every record acknowledged before (by the old)
// and after (by the new) is read back at its offset, also after GC ran and a kill -9.
func TestNewIncarnationFencesAZombie(t *testing.T) {
	// Merging and GC run every 200 ms, so a zombie's GC would have every chance to delete.
	c := startCluster(t, clusterOpts{args: []string{"--merge-interval", "200ms", "--merge-age", "500ms",
		"--gc-interval", "200ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s"}})
	old := c.broker
	const topic, partitions = "zombie", 2
	kafkatest.CreateTopic(t, old.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, old.Addr), ledger, topic, partitions, "before", 1000)

	replacement := testbroker.StartBroker(t, old.Etcd, old.S3, append(append([]string{}, baseArgs...), old.Args[len(baseArgs):]...)...)
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, replacement.Addr), ledger, topic, partitions, "after", 1000)

	// The replaced process answers nothing as leader: a client that only knows it and sends
	// no leader epoch must not get the old high watermark.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zcl := kafkatest.NewNonIdempotentProducer(t, old.Addr, kgo.RecordDeliveryTimeout(8*time.Second), kgo.RequestRetries(0),
		kgo.RetryBackoffFn(func(int) time.Duration { return 200 * time.Millisecond }))
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for p := range int32(partitions) {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p, -1, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	if resp, err := zcl.Broker(0).Request(ctx, lo); err == nil {
		for _, tp := range resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, pp := range tp.Partitions {
				if pp.ErrorCode == 0 {
					t.Errorf("the replaced incarnation answered ListOffsets for %s[%d] with offset %d", topic, pp.Partition, pp.Offset)
				}
			}
		}
	}
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "zombie-%d", i)})
	}
	for _, r := range zcl.ProduceSync(ctx, recs...) {
		if r.Err == nil {
			t.Errorf("the replaced incarnation acknowledged %q at %s[%d]@%d", r.Record.Value, r.Record.Topic, r.Record.Partition, r.Record.Offset)
		}
	}
	if code, body := readyz(old); code == 200 {
		t.Errorf("the replaced incarnation's /readyz answers 200 (%s); want not ready", body)
	}
	code, exited := old.WaitExit(30 * time.Second)
	switch {
	case !exited:
		t.Errorf("the replaced process still runs 30 s after it was replaced")
	case code == 0:
		t.Errorf("the replaced process exited with status 0; want an error")
	case !strings.Contains(old.LogTail(1<<20), "another process registered broker id"):
		t.Errorf("the replaced process's log does not say why it stopped")
	}

	// The replacement's own merges and GC run; nothing it needs may be gone.
	waitMetricS3(t, replacement, "kafscale_gc_object_entries_deleted_total", 1, 30*time.Second)
	replacement.Kill()
	replacement.Restart()
	read := kafkatest.ReadAll(t, replacement.Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	for _, r := range read {
		if len(r.Value) >= 6 && string(r.Value[:6]) == "zombie" {
			t.Errorf("a record produced to the replaced incarnation is readable: %q at offset %d", r.Value, r.Offset)
		}
	}
	t.Logf("%d records acknowledged and read back after GC and a kill -9; the replaced process exited with status %d", ledger.Len(), code)
}

// waitMetricS3 polls a broker's /metrics until name reaches at least want.
func waitMetricS3(t *testing.T, b *testbroker.Broker, name string, want float64, timeout time.Duration) {
	t.Helper()
	kafkatest.WaitFor(t, timeout, fmt.Sprintf("%s >= %v", name, want), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m, err := b.Metrics(ctx)
		return err == nil && kafkatest.MetricValue(m, name) >= want
	})
}
