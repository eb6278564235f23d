package limits

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// BenchmarkHonestClient measures an honest franz-go client's latency against a `kafscale
// dev` alone and under each hostile load of the tests (issue 16, acceptance 1: within 2x
// of unloaded): one op produces one record with acks=all and waits for its
// acknowledgement (produce-p50/p99-ms), then waits until a consumer of the topic has
// fetched it (e2e-p50/p99-ms). Run it with a fixed count, for example
//
//	go test -run - -bench HonestClient -benchtime 2000x ./tests/limits
func BenchmarkHonestClient(b *testing.B) {
	loads := []struct {
		name  string
		conns int
		start func(b *testing.B, p *testbroker.Process)
	}{
		{"unloaded", 0, func(*testing.B, *testbroker.Process) {}},
		{"stalled-frames-1000", 1000, func(b *testing.B, p *testbroker.Process) {
			stalledFrames(b, p.Addr, 1000, 4, 100*mib, 8*mib, 2*time.Second)
			waitFor(b, "the attack connections to wait for memory", 60*time.Second, func() bool {
				return metric(b, p, "kafscale_netio_connections_waiting_for_memory") == 998
			})
		}},
		{"idle-connections-1000", 1000, func(b *testing.B, p *testbroker.Process) {
			for i := range 1000 {
				c, err := dialFrom(attackerIP(i, 4), p.Addr)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = c.Close() })
			}
			waitFor(b, "the connections to be open", 30*time.Second, func() bool {
				return metric(b, p, "kafscale_netio_connections") >= 1000
			})
		}},
		{"slow-readers-200", 200, func(b *testing.B, p *testbroker.Process) {
			produceAndFetch(b, p.Addr, "data", 128, 512<<10)
			slowReaders(b, p, "data", 200, 16, 50*mib)
			waitFor(b, "the slow readers' fetches to be answered", 60*time.Second, func() bool {
				return metric(b, p, `kafscale_requests_total{api="Fetch"}`) >= 200
			})
		}},
	}
	for _, load := range loads {
		b.Run(load.name, func(b *testing.B) {
			needOpenFiles(b, load.conns)
			p := testbroker.StartPlain(b, "--request-read-timeout", "10m") // as in TestStalledLargeFramesAttack
			load.start(b, p)
			idle, _ := status(b, p.PID())
			resetPeak(b, p.PID())
			produce, e2e := honestLatencies(b, p.Addr)
			_, hwm := status(b, p.PID())
			b.ReportMetric(ms(percentile(produce, 50)), "produce-p50-ms")
			b.ReportMetric(ms(percentile(produce, 99)), "produce-p99-ms")
			b.ReportMetric(ms(percentile(e2e, 50)), "e2e-p50-ms")
			b.ReportMetric(ms(percentile(e2e, 99)), "e2e-p99-ms")
			b.ReportMetric(float64(hwm)/mib, "peak-rss-MiB")
			b.ReportMetric(float64(idle)/mib, "rss-before-MiB")
		})
	}
}

// honestLatencies runs b.N produce-then-consume round trips of one 1 KiB record.
func honestLatencies(b *testing.B, addr string) (produce, e2e []time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const topic = "honest"
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cons.Close()
	if fs := cons.PollFetches(ctx); fs.Err0() != nil {
		b.Fatal(fs.Err0())
	}
	value := make([]byte, 1024)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		produce = append(produce, time.Since(start))
		for got := 0; got == 0; {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			got = fs.NumRecords()
		}
		e2e = append(e2e, time.Since(start))
	}
	b.StopTimer()
	return produce, e2e
}

// percentile returns the p-th percentile of ds (sorted in place).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, len(ds)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
