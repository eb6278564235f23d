package flush

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafscale/kafscale/objstore"
)

// BenchmarkHedgedUploadTail measures what hedged uploads do to the write path's tail under
// the s3-published profile (objstore.S3PublishedLatency): the default flusher (100 ms
// interval, 4 uploads at once, commits in cut order) on a simulated S3, one 1 KiB batch
// appended every 5 ms (each iteration is one batch), each batch timed from its Append to
// its flush committed: what an acks=all produce waits on the broker, head-of-line
// blocking behind slow PUTs included. The delays are timers, so the figures hold on a
// loaded machine better than kbench's. Run with a fixed count, e.g.
//
//	go test -run X -bench HedgedUploadTail -benchtime 6000x ./flush/
//
// and compare the sub-benchmarks' p50-ms, p99-ms and puts/object (hedging off, the default
// 0.9, 0.75 and 0.5; and the default with 8 uploads at once instead of 4).
func BenchmarkHedgedUploadTail(b *testing.B) {
	for _, v := range []struct {
		quantile float64
		uploads  int
	}{{0, 4}, {0.9, 4}, {0.75, 4}, {0.5, 4}, {0.9, 8}} {
		name := "quantile=" + strconv.FormatFloat(v.quantile, 'f', -1, 64) + ",uploads=" + strconv.Itoa(v.uploads)
		b.Run(name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.HedgeQuantile = v.quantile
			cfg.UploadConcurrency = v.uploads
			benchFlushTail(b, cfg, objstore.S3PublishedLatency(), 5*time.Millisecond)
		})
	}
}

// BenchmarkExpressFlushTail measures the broker's part of the low-latency mode (issue 20,
// acceptance 7): the default flusher with a shorter flush interval on the simulated
// s3-express store, a 1 KiB batch appended every millisecond, each timed from its Append to
// its flush committed. puts/s is what the interval costs.
//
//	go test -run X -bench ExpressFlushTail -benchtime 10000x ./flush/
func BenchmarkExpressFlushTail(b *testing.B) {
	for _, interval := range []time.Duration{100 * time.Millisecond, 50 * time.Millisecond, 20 * time.Millisecond} {
		b.Run("interval="+interval.String(), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.FlushInterval = interval
			benchFlushTail(b, cfg, objstore.S3ExpressLatency(), time.Millisecond)
		})
	}
}

// benchFlushTail runs a flusher with cfg on an in-memory store with latency lc, appends one
// 1 KiB batch every pace (b.N batches) and reports the Append-to-commit percentiles, the
// PUTs per object and per second.
func benchFlushTail(b *testing.B, cfg Config, lc objstore.LatencyConfig, pace time.Duration) {
	st := &faultyStore{Store: objstore.WithLatency(newMemStore(true), lc)} // counts PUTs, fails none
	f := newTestFlusher(b, cfg, st, nopCommitter{})
	s := &nopSink{}
	id := partitionID(1, 0, 0)
	data := make([]byte, 1024)
	appended := make([]time.Time, b.N)
	flushes := make([]*Flush, b.N)
	var mu sync.Mutex
	doneAt := map[*Flush]time.Time{}
	var wg sync.WaitGroup
	tick := time.NewTicker(pace)
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		<-tick.C
		if err := f.Reserve(context.Background(), int64(len(data))); err != nil {
			b.Fatal(err)
		}
		appended[i] = time.Now()
		fl := f.Append(s, id, Batch{Data: data, BaseOffset: int64(i), LastOffset: int64(i)})
		flushes[i] = fl
		mu.Lock()
		if _, ok := doneAt[fl]; !ok {
			doneAt[fl] = time.Time{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-fl.Done()
				mu.Lock()
				doneAt[fl] = time.Now()
				mu.Unlock()
			}()
		}
		mu.Unlock()
	}
	f.Flush()
	wg.Wait()
	b.StopTimer()
	secs := time.Since(start).Seconds()
	lat := make([]time.Duration, b.N)
	for i := range lat {
		lat[i] = doneAt[flushes[i]].Sub(appended[i])
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[b.N/2]), "p50-ms")
	b.ReportMetric(ms(lat[b.N*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[b.N-1]), "max-ms")
	b.ReportMetric(float64(st.puts.Load())/float64(len(doneAt)), "puts/object")
	b.ReportMetric(float64(st.puts.Load())/secs, "puts/s")
}
