package kafkatest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
)

// NewNonIdempotentProducer returns a franz-go producer with acks=all, manual partitioning,
// a 5 ms linger and a 60 s delivery timeout, closed when the test ends; opts come after
// those and override them. Idempotence is off, so a batch the client retries after a lost
// answer may be stored twice: tests that allow for that use this producer.
func NewNonIdempotentProducer(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newProducer(t, addr, append([]kgo.Opt{kgo.DisableIdempotentWrite()}, opts...))
}

// NewIdempotentProducer is NewNonIdempotentProducer with franz-go's default idempotence:
// a retried batch carries its producer id and sequence, so the broker stores it once.
func NewIdempotentProducer(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newProducer(t, addr, opts)
}

func newProducer(t testing.TB, addr string, opts []kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RecordDeliveryTimeout(60 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("cannot create producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ProduceSync produces n records with values "<prefix>-<i>" round-robin over the
// partitions (setting kgo.Record.Partition, so cl must use kgo.ManualPartitioner), waits up
// to 90 s for every answer, records each ack in ledger, and fails the test if any record
// failed.
func ProduceSync(t testing.TB, cl *kgo.Client, ledger *ackcheck.Ledger, topic string, partitions int32, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var failed int
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				failed++
				mu.Unlock()
				return
			}
			ledger.Ack(ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Value)
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce failed for %d of %d records to %s; first error: %v", failed, n, topic, firstErr)
	}
}
