package durability

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// mergeFlags make merging and GC run within a test's lifetime: small segments and chunks,
// short ages and a short grace.
var mergeFlags = []string{
	"--flush-interval", "10ms", "--merge-bytes", "65536", "--merge-chunk-bytes", "8192",
	"--merge-age", "200ms", "--merge-interval", "100ms", "--gc-interval", "200ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s",
	"--tail-bytes", "0",
}

// waitMetric polls /metrics until name reaches at least want.
func waitMetric(t *testing.T, p *testbroker.Process, name string, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got float64
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := p.Metrics(ctx)
		cancel()
		if err == nil {
			if got = kafkatest.MetricValue(m, name); got >= want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s = %v after %s, want >= %v", name, got, timeout, want)
}

// TestMergedSegmentsServeEveryRecordAcrossRestarts: with merging and GC running, data moves
// from flush objects into segments, objects/ entries and flush objects are deleted, and every
// acknowledged record is still served at its offset, before and after a restart and a kill -9.
func TestMergedSegmentsServeEveryRecordAcrossRestarts(t *testing.T) {
	p := testbroker.Start(t, mergeFlags...)
	const topic, partitions = "merged", 3
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	cl := kafkatest.NewNonIdempotentProducer(t, p.Addr, kgo.ProducerBatchMaxBytes(4096))
	for round := range 5 {
		kafkatest.ProduceSync(t, cl, ledger, topic, partitions, "r"+string(rune('0'+round)), 600)
	}
	waitMetric(t, p, "kafscale_merge_segments_total", partitions, 30*time.Second)
	waitMetric(t, p, "kafscale_gc_object_entries_deleted_total", 1, 30*time.Second)
	waitMetric(t, p, "kafscale_gc_objects_deleted_total", 1, 30*time.Second)
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, partitions)); err != nil {
		t.Fatalf("before restart: %v", err)
	}

	p.Term(30 * time.Second)
	p.Restart()
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, partitions)); err != nil {
		t.Fatalf("after SIGTERM restart: %v", err)
	}
	cl2 := kafkatest.NewNonIdempotentProducer(t, p.Addr, kgo.ProducerBatchMaxBytes(4096))
	kafkatest.ProduceSync(t, cl2, ledger, topic, partitions, "after", 1000)
	waitMetric(t, p, "kafscale_merge_segments_total", partitions, 30*time.Second)
	p.Kill()
	p.Restart()
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, partitions)); err != nil {
		t.Fatalf("after kill -9 restart: %v", err)
	}
}
