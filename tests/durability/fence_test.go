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

// TestAdoptedFenceResignsMovedPartitions guards against issue 18's sixth scenario: when a
// fenced write failed, the broker re-read its fence and adopted the new revision without
// resigning the partitions the assignment no longer gave it, so later commits passed the
// fence compare and nothing voided those partitions' batches: a broker kept acknowledging
// a topic deleted elsewhere (in a cluster: a partition moved to another broker, two
// leaders acknowledging). Here the topic is deleted in etcd directly, as another broker or
// the controller would; a produce to another topic makes the broker hit the moved fence and
// adopt it; a produce to the deleted topic must then fail, never be acknowledged.
func TestAdoptedFenceResignsMovedPartitions(t *testing.T) {
	etcdAddr := freeLoopbackAddr(t)
	p := testbroker.Start(t, "--etcd-listen", etcdAddr, "--checkpoint-interval", "1h", "--merge-interval", "1h", "--gc-interval", "1h")
	store := etcdStore(t, etcdAddr)
	kafkatest.CreateTopic(t, p.Addr, "gone", 1)
	kafkatest.CreateTopic(t, p.Addr, "stays", 1)
	ledger := ackcheck.NewLedger()
	gone := kafkatest.NewNonIdempotentProducer(t, p.Addr, kgo.RecordDeliveryTimeout(5*time.Second))
	stays := kafkatest.NewNonIdempotentProducer(t, p.Addr)
	kafkatest.ProduceSync(t, gone, ackcheck.NewLedger(), "gone", 1, "before", 10)
	kafkatest.ProduceSync(t, stays, ledger, "stays", 1, "before", 10)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := store.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	// This commit fails the fence compare; the broker re-reads its fence and adopts it.
	kafkatest.ProduceSync(t, stays, ledger, "stays", 1, "after", 10)

	r := gone.ProduceSync(ctx, &kgo.Record{Topic: "gone", Partition: 0, Value: []byte("zombie")})
	if err := r.FirstErr(); err == nil {
		rec, _ := r.First()
		t.Fatalf("a produce to the deleted topic was acknowledged at offset %d after the broker adopted the moved fence", rec.Offset)
	} else {
		t.Logf("produce to the deleted topic failed as it must: %v", err)
	}
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, "stays", 1)); err != nil {
		t.Fatal(err)
	}
}
