package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// BenchmarkIdleConsumersCPUPerCommit measures the broker CPU one commit costs while idle
// consumers long-poll partitions nobody writes to (issue 20, acceptance 3): a topic of 1,000
// partitions, N consumers each reading 4 idle partitions with franz-go's default 5 s fetch
// wait, and one producer sending one record at a time to partition 0, each a commit of its
// own. A commit should wake only the fetches reading its partition, so the figure should
// stay flat from 10 to 200 idle consumers. Reported as broker-cpu-us/commit (the broker's
// user+system CPU from /proc, divided by the flush objects it committed).
//
//	go test -run '^$' -bench IdleConsumers -benchtime 2000x ./bench/
func BenchmarkIdleConsumersCPUPerCommit(b *testing.B) {
	for _, idle := range []int{10, 200} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
			p := testbroker.StartPlain(b)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			const topic, partitions = "wake", 1000
			admin, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
			if err != nil {
				b.Fatal(err)
			}
			defer admin.Close()
			if resp, err := kadm.NewClient(admin).CreateTopic(ctx, partitions, -1, nil, topic); err != nil || resp.Err != nil {
				b.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
			}
			for i := range idle {
				offs := map[int32]kgo.Offset{}
				for j := range int32(4) {
					offs[1+int32(i)*4+j] = kgo.NewOffset().AtEnd()
				}
				cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				go func() {
					for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
					}
				}()
			}
			// Every idle consumer has parked a fetch once the fetch count stops lagging.
			kafkatest.WaitUntil(b, 60*time.Second, "idle consumers to park their fetches", func() error {
				m, err := p.Metrics(ctx)
				if err != nil {
					return err
				}
				if n := kafkatest.MetricValue(m, "kafscale_fetch_requests_total"); n < float64(idle) {
					return fmt.Errorf("%v fetches for %d consumers", n, idle)
				}
				return nil
			})
			prod, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				b.Fatal(err)
			}
			defer prod.Close()
			send := func() {
				if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
			for range 50 { // warm up the producer's connection and id
				send()
			}
			cpu0, commits0 := brokerCPU(b, p), flushObjects(b, ctx, p)
			b.ResetTimer()
			for range b.N {
				send()
			}
			b.StopTimer()
			cpu, commits := brokerCPU(b, p)-cpu0, flushObjects(b, ctx, p)-commits0
			if commits <= 0 {
				b.Fatalf("no flush committed")
			}
			b.ReportMetric(float64(cpu.Microseconds())/commits, "broker-cpu-us/commit")
			b.ReportMetric(commits/float64(b.N), "commits/op")
		})
	}
}

// brokerCPU returns the broker process's user and system CPU time so far.
func brokerCPU(tb testing.TB, p *testbroker.Process) time.Duration {
	tb.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start after its ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("cannot parse /proc/%d/stat: %v %v", p.PID(), err1, err2)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

func flushObjects(tb testing.TB, ctx context.Context, p *testbroker.Process) float64 {
	tb.Helper()
	m, err := p.Metrics(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return kafkatest.MetricValue(m, "kafscale_flush_objects_total")
}
