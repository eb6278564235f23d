package s3

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestNewIncarnationFencesAZombie: a second `kafscale broker` with the same broker id on
// the same etcd and bucket (a replacement pod while the old one still runs) registers a
// new incarnation, which bumps the broker's fence. The old process must not acknowledge
// anything from then on: its commits fail the fence compare, it says so on /readyz, and
// its producers get errors. The new incarnation takes the partitions over from the
// checkpoint and the old incarnation's committed objects, so every record acknowledged
// before (by the old) and after (by the new) is read back at its offset.
func TestNewIncarnationFencesAZombie(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	old := c.broker
	const topic, partitions = "zombie", 2
	kafkatest.CreateTopic(t, old.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, old.Addr), ledger, topic, partitions, "before", 200)

	replacement := testbroker.StartBroker(t, old.Etcd, old.S3, baseArgs...)

	// The zombie still has its listener: a client that only knows it must get errors.
	zcl := kafkatest.NewNonIdempotentProducer(t, old.Addr, kgo.RecordDeliveryTimeout(8*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 200 * time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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

	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, replacement.Addr), ledger, topic, partitions, "after", 200)
	read := kafkatest.ReadAll(t, replacement.Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	for _, r := range read {
		if len(r.Value) >= 6 && string(r.Value[:6]) == "zombie" {
			t.Errorf("a record produced to the replaced incarnation is readable: %q at offset %d", r.Value, r.Offset)
		}
	}
	t.Logf("%d records acknowledged and read back; the replaced incarnation acknowledged none of 50", ledger.Len())
}
