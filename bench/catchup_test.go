package bench

import (
	"context"
	crand "crypto/rand"
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

// BenchmarkCatchUpRead measures a consumer catching up on data written long ago (issue 20,
// acceptance 5): KAFSCALE_CATCHUP_BYTES (default 1 GiB; the acceptance's figure is 4 GiB) of
// 4 KiB records (incompressible, uncompressed) over 4 partitions are written to `kafscale dev` and merged into segments,
// the broker restarts with the simulated S3 Standard store (`--object-latency s3-standard`:
// GETs of 20 ms median, 100 ms p99) and an empty range cache, and one franz-go consumer with
// its defaults reads everything from the start. Reported: MiB/s read, and the broker's peak
// RSS over the read (VmHWM) against --cache-bytes (256 MiB).
//
// KAFSCALE_CATCHUP_LATENCY=none reads from the local store without simulated latency.
//
//	KAFSCALE_CATCHUP_BYTES=4294967296 go test -run '^$' -bench CatchUp -benchtime 1x -timeout 30m ./bench/
func BenchmarkCatchUpRead(b *testing.B) {
	total := int64(1 << 30)
	if v, err := strconv.ParseInt(os.Getenv("KAFSCALE_CATCHUP_BYTES"), 10, 64); err == nil && v > 0 {
		total = v
	}
	const topic, partitions, recordSize = "history", 4, 4096
	p := testbroker.StartPlain(b, "--merge-age", "1s", "--merge-interval", "500ms", "--gc-interval", "5s", "--gc-grace", "60s")
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	// Incompressible values, sent uncompressed: the figure is bytes moved, not a codec's ratio.
	prod, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(4096), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	if resp, err := kadm.NewClient(prod).CreateTopic(ctx, partitions, -1, nil, topic); err != nil || resp.Err != nil {
		b.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
	}
	value := make([]byte, recordSize)
	if _, err := crand.Read(value); err != nil {
		b.Fatal(err)
	}
	n := total / recordSize
	errs := make(chan error, 1)
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Topic: topic, Value: value, Partition: int32(i % partitions)}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	prod.Close()
	select {
	case err := <-errs:
		b.Fatalf("produce: %v", err)
	default:
	}
	// Everything merged into segments, as data written an hour earlier is.
	kafkatest.WaitUntil(b, 5*time.Minute, "the data to be merged into segments", func() error {
		m, err := p.Metrics(ctx)
		if err != nil {
			return err
		}
		merged := kafkatest.MetricValue(m, "kafscale_merge_bytes_total")
		if merged < float64(total) {
			return fmt.Errorf("%.0f of %d bytes merged", merged, total)
		}
		return nil
	})
	p.Term(2 * time.Minute)
	latency := "s3-standard"
	if v := os.Getenv("KAFSCALE_CATCHUP_LATENCY"); v != "" {
		latency = v // "none" for the machine's ceiling
	}
	p.Args = append(p.Args, "--object-latency", latency)

	var read int64
	var elapsed time.Duration
	var peak int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p.Restart() // an empty range cache
		b.StartTimer()
		start := time.Now()
		got := consumeAll(b, ctx, p.Addr, topic, n)
		elapsed += time.Since(start)
		read += got
		b.StopTimer()
		if hwm, err := vmHWM(p.PID()); err == nil {
			peak = max(peak, hwm)
		}
		p.Term(2 * time.Minute)
		b.StartTimer()
	}
	b.ReportMetric(float64(read)/(1<<20)/elapsed.Seconds(), "MiB/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
}

// consumeAll reads n records of topic from the start with one franz-go consumer (defaults)
// and returns their value bytes.
func consumeAll(b *testing.B, ctx context.Context, addr, topic string, n int64) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var got, bytes int64
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("timed out after %d of %d records", got, n)
		}
		fs.EachError(func(_ string, _ int32, err error) { b.Logf("fetch error: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
		})
	}
	return bytes
}

// vmHWM returns a process's peak resident set size.
func vmHWM(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
