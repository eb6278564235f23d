// Package durability tests the durability contract against a real `kafscale dev` process:
// records acknowledged with acks=all survive SIGTERM and kill -9 at their offsets.
package durability

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestSIGTERMRestartServesAcknowledgedRecords: a clean stop flushes pending data; after a
// restart on the same data dir every acknowledged record is at its offset (read from the
// object store, since the restarted broker's in-memory tail is empty), and new records get
// the next dense offsets.
func TestSIGTERMRestartServesAcknowledgedRecords(t *testing.T) {
	p := testbroker.Start(t)
	const topic, partitions = "orders", 4
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, p.Addr), ledger, topic, partitions, "before", 2000)
	p.Term(30 * time.Second)
	p.Restart()
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, partitions)); err != nil {
		t.Fatal(err)
	}
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, p.Addr), ledger, topic, partitions, "after", 400)
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, partitions)); err != nil {
		t.Fatal(err)
	}
	if ledger.Len() != 2400 {
		t.Fatalf("ledger holds %d acks, want 2400", ledger.Len())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := kafkatest.MetricValue(m, "kafscale_fetch_object_reads_total"); n <= 0 {
		t.Fatalf("kafscale_fetch_object_reads_total = %v after reading a restarted broker's data; want > 0", n)
	}
}

// TestKill9UnderLoadLosesNoAcknowledgedRecord kills the broker with SIGKILL at random
// moments while a producer with acks=all writes continuously, restarts it each time, and then
// checks every acknowledged record at its acknowledged offset.
func TestKill9UnderLoadLosesNoAcknowledgedRecord(t *testing.T) {
	runKillTest(t, "--flush-interval", "20ms")
}

// TestKill9WhileMergingLosesNoAcknowledgedRecord runs the crash test with merging and GC
// running all the time, so kills land between segment uploads, segment commits, chain
// moves and deletions.
func TestKill9WhileMergingLosesNoAcknowledgedRecord(t *testing.T) {
	runKillTest(t, mergeFlags...)
}

func runKillTest(t *testing.T, flags ...string) {
	p := testbroker.Start(t, flags...)
	const topic, partitions = "crash", 3
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	cl := kafkatest.NewNonIdempotentProducer(t, p.Addr, kgo.RequestRetries(1000), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var seq atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		sem := make(chan struct{}, 200) // bound records in flight
		for ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			i := seq.Add(1)
			r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte("v-" + strconv.FormatInt(i, 10))}
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				<-sem
				if err == nil {
					ledger.Ack(ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Value)
				}
			})
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const kills = 5
	for k := 0; k < kills; k++ {
		before := ledger.Len()
		deadline := time.Now().Add(20 * time.Second)
		for ledger.Len() < before+200 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // waiting for acks to accumulate between kills
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // a random moment
		p.Kill()
		p.Restart()
	}
	for ledger.Len() < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	wg.Wait()
	flushCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		t.Fatalf("cannot flush the producer: %v", err)
	}
	t.Logf("%d records acknowledged across %d kills", ledger.Len(), kills)
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, partitions)); err != nil {
		t.Fatal(err)
	}
}
