package cluster

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestControllerSpreadsHotPartitions guards issue 12's acceptance 2 (balanced by recent
// bytes in): of a topic whose six partitions are spread two per broker, the two a single
// broker leads receive about 1 MiB/s each and the others nothing. Counts are even, so only
// bytes can tell: the controller must move one of the hot partitions (swapping it for a
// cold one) so that no broker receives both, without a produce failing.
func TestControllerSpreadsHotPartitions(t *testing.T) {
	const topic, partitions = "hot", 6
	c := startCluster(t, 3, "--load-report-interval", "1s")
	createTopic(t, c, 0, topic, partitions)
	var before view
	kafkatest.WaitUntil(t, 10*time.Second, "every broker to agree on the leaders of "+topic, func() error {
		var err error
		before, err = c.agreed(topic, partitions)
		return err
	})
	// Two partitions of one broker.
	hot := []int32{-1, -1}
	for p, l := range before.leaders {
		if hot[0] < 0 {
			hot[0] = int32(p)
		} else if before.leaders[hot[0]].id == l.id {
			hot[1] = int32(p)
			break
		}
	}
	if hot[1] < 0 {
		// Placement puts two per broker; find another pair if the first has none.
		for p := range before.leaders {
			for q := p + 1; q < len(before.leaders); q++ {
				if before.leaders[p].id == before.leaders[q].id {
					hot = []int32{int32(p), int32(q)}
				}
			}
		}
	}
	if hot[1] < 0 {
		t.Fatalf("no broker leads two partitions of %s: %+v", topic, before.leaders)
	}
	t.Logf("hot partitions %v, both led by broker %d; leaders %+v", hot, before.leaders[hot[0]].id, before.leaders)

	cl := kafkatest.NewNonIdempotentProducer(t, c.brokers[0].Addr, kgo.SeedBrokers(c.addrs()...), kgo.MaxProduceRequestsInflightPerBroker(10), kgo.ProducerLinger(20*time.Millisecond),
		// Bytes in are the bytes stored: uncompressed, 1 KiB a record.
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithCancel(context.Background())
	var failed atomic.Int64
	var firstErr atomic.Value
	done := make(chan struct{})
	go func() { // 1 MiB/s to each hot partition: 64 records of 1 KiB every 62.5 ms
		defer close(done)
		value := make([]byte, 1024)
		rand.Read(value)
		tick := time.NewTicker(62500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, p := range hot {
				for range 64 {
					cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: value}, func(_ *kgo.Record, err error) {
						if err != nil && ctx.Err() == nil {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
					})
				}
			}
		}
	}()
	defer func() { cancel(); <-done }()
	store := c.store(t)
	start := time.Now()
	var after view
	kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("partitions %v of %s to be led by two brokers", hot, topic), func() error {
		v, err := c.agreed(topic, partitions)
		if err != nil {
			return err
		}
		if v.leaders[hot[0]].id == v.leaders[hot[1]].id {
			loads, err := store.ReadLoads(context.Background())
			return fmt.Errorf("both led by broker %d; load reports %v (read error %v)", v.leaders[hot[0]].id, loads, err)
		}
		after = v
		return nil
	})
	t.Logf("BALANCE: the hot partitions were spread %s after the load began; leaders %+v", time.Since(start).Round(time.Millisecond), after.leaders)
	counts := map[int32]int{}
	for _, l := range after.leaders {
		counts[l.id]++
	}
	for id, n := range counts {
		if n != 2 {
			t.Errorf("broker %d leads %d partitions of %s after balancing bytes, want 2 each: %+v", id, n, topic, after.leaders)
		}
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("%d records failed while partitions moved; first: %v", n, firstErr.Load())
	}
	scrape, cancelScrape := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelScrape()
	text, err := kafkatest.ScrapeMetrics(scrape, c.brokers[after.controller].MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if n := kafkatest.MetricValue(text, "kafscale_controller_bytes_in_moves_total"); n < 1 {
		t.Errorf("the controller (broker %d) counts %v moves for bytes in", after.controller, n)
	}
}
