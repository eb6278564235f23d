package durability

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestDeleteRecordsFreesTheBucket guards issue 13's acceptance 2 with a real client: after
// kadm's DeleteRecords to the high watermark, the segments below the new log start are
// deleted from etcd and, after gc.grace, from the store, the flush objects that only held
// them go too, the log start survives a restart, and records written afterwards are
// served from it.
func TestDeleteRecordsFreesTheBucket(t *testing.T) {
	p := testbroker.Start(t, "--flush-interval", "50ms", "--merge-interval", "300ms", "--merge-age", "1s",
		"--gc-interval", "300ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s", "--checkpoint-interval", "1s")
	const topic = "deleted"
	kafkatest.CreateTopic(t, p.Addr, topic, 1)
	cl := kafkatest.NewNonIdempotentProducer(t, p.Addr)
	ledger := ackcheck.NewLedger()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		kafkatest.ProduceSync(t, cl, ledger, topic, 1, "old", 50)
	}
	segments := filepath.Join(p.DataDir, "objects", "segments")
	waitMetric(t, p, "kafscale_merge_segments_total", 2, 30*time.Second)
	before := countFiles(t, segments)

	adm := kadm.NewClient(newClient(t, p.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	res, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := res.Lookup(topic, 0)
	if got.Err != nil || got.LowWatermark != end.Offset {
		t.Fatalf("DeleteRecords to the end (%d): low watermark %d, %v", end.Offset, got.LowWatermark, got.Err)
	}
	t.Logf("%d records deleted; %d segment objects in the store before", end.Offset, before)

	kafkatest.WaitUntil(t, 60*time.Second, "every segment below the log start to be deleted from the store", func() error {
		if n := countFiles(t, segments); n > 0 {
			return fmt.Errorf("%d segment objects left (trimmed %v)", n, metric(t, p, "kafscale_segments_deleted_below_log_start_total"))
		}
		return nil
	})
	p.Term(30 * time.Second)
	p.Restart()
	cl = kafkatest.NewNonIdempotentProducer(t, p.Addr)
	fresh := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, cl, fresh, topic, 1, "new", 20)
	read := kafkatest.ReadAll(t, p.Addr, topic, 1)
	if len(read) != 20 || read[0].Offset != end.Offset {
		t.Fatalf("after the restart a consumer from the start reads %d records from offset %v, want 20 from %d", len(read), firstOffset(read), end.Offset)
	}
	if err := fresh.Verify(read); err != nil {
		t.Error(err)
	}
}

func firstOffset(read []ackcheck.Record) any {
	if len(read) == 0 {
		return "none"
	}
	return read[0].Offset
}

func newClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
