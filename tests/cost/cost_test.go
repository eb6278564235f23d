// Package cost checks DESIGN.md's cost rule on a real `kafscale dev` process: per flush, one
// object PUT and one etcd transaction, whatever the number of partitions.
package cost

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

type window struct {
	etcdWrites int64 // etcd revisions: one per write transaction
	flushes    float64
	seconds    float64
}

// measure runs a fixed produce load over n partitions and counts etcd write transactions
// and flush objects in the window. Periodic checkpoints and merges are pushed out of the
// window: they are separate, bounded costs (see docs/object-lifecycle.md).
//
// With brokers > 1 it runs `kafscale dev --brokers N` (brokers 1.. are processes of their
// own on the following Kafka and metrics ports) and counts the flush objects of all.
func measure(t *testing.T, partitions int32, brokers int) window {
	etcdAddr := kafkatest.FreeAddr(t)
	// The cost rule is S3's: at most one PUT per flush interval below flush.bytes, with the
	// default interval of `kafscale broker` (dev's local store cuts every millisecond).
	p := testbroker.Start(t, "--etcd-listen", etcdAddr, "--checkpoint-interval", "1h", "--merge-age", "1h", "--merge-interval", "1h", "--gc-interval", "1h",
		"--flush-interval", "100ms", "--brokers", strconv.Itoa(brokers))
	if brokers > 1 {
		t.Cleanup(func() { p.Term(60 * time.Second) })
	}
	metricsAddrs := []string{p.MetricsAddr}
	host, port, err := net.SplitHostPort(p.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := strconv.Atoi(port)
	for i := 1; i < brokers; i++ {
		metricsAddrs = append(metricsAddrs, net.JoinHostPort(host, strconv.Itoa(base+i)))
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + etcdAddr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2*time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if brokers > 1 {
		kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("%d brokers serving", brokers), func() error {
			for _, addr := range metricsAddrs {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := kafkatest.ScrapeMetrics(sctx, addr)
				cancel()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	kafkatest.CreateTopic(t, p.Addr, "cost", partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	revision := func() int64 {
		r, err := cli.Get(ctx, "/kafscale/cluster")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	flushes := func() float64 {
		sum := 0.0
		for _, addr := range metricsAddrs {
			m, err := kafkatest.ScrapeMetrics(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			sum += kafkatest.MetricValue(m, "kafscale_flush_objects_total")
		}
		return sum
	}
	// Warm up so every partition has been produced to once (the first produce is not special,
	// but the warm-up takes client metadata loading out of the window).
	produce(t, ctx, cl, partitions, int(partitions), time.Second)
	rev0, fl0, start := revision(), flushes(), time.Now()
	produce(t, ctx, cl, partitions, 3000, 3*time.Second)
	rev1, fl1 := revision(), flushes()
	return window{etcdWrites: rev1 - rev0, flushes: fl1 - fl0, seconds: time.Since(start).Seconds()}
}

// produce sends n records round-robin over the partitions, paced over d, and waits for acks.
func produce(t *testing.T, ctx context.Context, cl *kgo.Client, partitions int32, n int, d time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	tick := d / time.Duration(n)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * tick)); wait > 0 {
			time.Sleep(wait) // pacing the load, not waiting for a condition
		}
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: "cost", Partition: int32(i) % partitions, Value: []byte("v" + strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
}

// TestEtcdWritesAndPutsDoNotGrowWithPartitions: the same load spread over 1, 100 and 1,000
// partitions costs one etcd write transaction per flush object, and at most one flush object
// per --flush-interval (100 ms here; the load stays far below --flush-bytes), whatever the
// number of partitions: DESIGN.md's cost rule. (It compared each rate with the 1-partition
// run's, which a loaded machine made flaky: fewer round trips a second, fewer flushes.)
func TestEtcdWritesAndPutsDoNotGrowWithPartitions(t *testing.T) {
	const flushInterval = 100 * time.Millisecond // measure's --flush-interval
	for _, n := range []int32{1, 100, 1000} {
		t.Run(fmt.Sprintf("%d partitions", n), func(t *testing.T) {
			w := measure(t, n, 1)
			t.Logf("%d partitions: %d etcd writes, %.0f flush objects in %.1fs (%.1f writes/s, %.1f PUTs/s)",
				n, w.etcdWrites, w.flushes, w.seconds, float64(w.etcdWrites)/w.seconds, w.flushes/w.seconds)
			if w.flushes == 0 {
				t.Fatal("no flush object in the window")
			}
			if float64(w.etcdWrites) > w.flushes+2 {
				t.Fatalf("%d etcd writes for %.0f flushes: more than one transaction per flush", w.etcdWrites, w.flushes)
			}
			// One flush object per interval, and the window may catch one more at each end.
			if maxFlushes := w.seconds/flushInterval.Seconds() + 2; w.flushes > maxFlushes {
				t.Fatalf("%.0f flush objects in %.1fs at %d partitions: more than one per %s", w.flushes, w.seconds, n, flushInterval)
			}
		})
	}
}

// TestEtcdWritesPerBrokerDoNotGrowWithBrokers (issue 12, acceptance 9): the same load over
// 100 partitions on one broker and on three (`kafscale dev --brokers 3`, partitions spread
// over them) costs one etcd write transaction per flush object in both, and the etcd writes
// per second of each broker do not grow with the number of brokers: membership, the
// controller and the cluster watches write nothing while the cluster is steady.
func TestEtcdWritesPerBrokerDoNotGrowWithBrokers(t *testing.T) {
	one := measure(t, 100, 1)
	three := measure(t, 100, 3)
	for _, c := range []struct {
		brokers int
		w       window
	}{{1, one}, {3, three}} {
		t.Logf("%d brokers, 100 partitions: %d etcd writes, %.0f flush objects in %.1fs (%.1f writes/s per broker, %.1f PUTs/s)",
			c.brokers, c.w.etcdWrites, c.w.flushes, c.w.seconds, float64(c.w.etcdWrites)/c.w.seconds/float64(c.brokers), c.w.flushes/c.w.seconds)
		if c.w.flushes == 0 {
			t.Fatalf("%d brokers: no flush object in the window", c.brokers)
		}
		if float64(c.w.etcdWrites) > c.w.flushes+2 {
			t.Errorf("%d brokers: %d etcd writes for %.0f flushes: more than one transaction per flush", c.brokers, c.w.etcdWrites, c.w.flushes)
		}
	}
	perBroker, base := float64(three.etcdWrites)/three.seconds/3, float64(one.etcdWrites)/one.seconds
	if perBroker > 1.5*base+2 {
		t.Errorf("%.1f etcd writes/s per broker with 3 brokers vs %.1f with 1", perBroker, base)
	}
}
