package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The consume-only load (Load.Fill): the maximum fetch rate, consumers reading what is
// already stored. The producers write the topic for Fill (at Rate, or as fast as the
// target acks) and stop once every record is acknowledged; then the Consumers read it from
// the start; from the first records they receive, Warmup of reading is not counted and the
// window counts the records they receive per second of wall time. A window in which the consumers run out of records to read is
// reported as an error (the fill was too short for it), never as a rate.

// runKafkaFetch runs the consume-only load against a fresh topic at addr and fills res;
// probe, if not nil, reads the broker at the window's edges.
func runKafkaFetch(ctx context.Context, l Load, addr string, probe *prober, res *Result, profile func(*clock) func() error) error {
	topic, err := newTopic(ctx, addr, l.Partitions)
	if err != nil {
		return err
	}
	k := &kafkaLoad{l: l, addr: addr, topic: topic}
	popts := producerOpts(l, addr, 64<<20)
	now := time.Now()
	// Every record of the fill counts as in the window of the produce figures.
	k.clk = clock{base: now, winFrom: 0, winTo: int64(l.Fill), stopAt: now.Add(l.Fill), winStart: now, winEnd: now.Add(l.Fill)}
	var pwg sync.WaitGroup
	for range l.Producers {
		cl, err := kgo.NewClient(popts...)
		if err != nil {
			return err
		}
		defer cl.Close()
		pwg.Go(func() {
			k.produce(ctx, cl, l.Rate/float64(l.Producers))
			dctx, cancel := context.WithTimeout(ctx, l.Drain)
			defer cancel()
			if err := cl.Flush(dctx); err != nil {
				k.firstErr.set(fmt.Errorf("producers did not finish within -drain %s: %w", l.Drain, err))
			}
		})
	}
	pwg.Wait()
	filled := k.acked.Load()
	res.Records = filled
	res.RecordsPerS = float64(filled) / l.Fill.Seconds()
	res.MBPerS = float64(filled) * float64(l.RecordSize) / l.Fill.Seconds() / 1e6
	res.ProduceErrs = k.prodErrs.Load()
	res.Ack = k.ack.Summarize()
	if k.firstErr.err != nil {
		res.FirstErr = k.firstErr.err.Error()
		return nil
	}

	// The reading clock starts when the first records arrive, so that the consumers'
	// start-up (metadata, offsets, the first fetch) is in neither the warm-up nor the window.
	r := &reading{started: make(chan struct{})}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var cwg sync.WaitGroup
	for c := range l.Consumers {
		parts := map[int32]kgo.Offset{}
		for p := int32(c); p < l.Partitions; p += int32(l.Consumers) {
			parts[p] = kgo.NewOffset().AtStart()
		}
		if len(parts) == 0 {
			continue
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
		if err != nil {
			return err
		}
		defer cl.Close()
		cwg.Go(func() { k.readBack(readCtx, cl, filled, r) })
	}
	select {
	case <-r.started:
	case <-time.After(l.Drain):
		stopReading()
		cwg.Wait()
		return fmt.Errorf("the consumers received no record within -drain %s", l.Drain)
	case <-ctx.Done():
		stopReading()
		cwg.Wait()
		return ctx.Err()
	}
	clk := newClock(l)
	r.clk.Store(&clk)
	harnessCPU := selfCPU(&clk)
	sampled := probeWindow(ctx, probe, &clk)
	profiled := profile(&clk)
	stop := time.AfterFunc(time.Until(clk.winEnd), stopReading)
	defer stop.Stop()
	cwg.Wait()
	sampled.wait()
	profErr := profiled()

	res.HarnessCPUPercent = harnessCPU()
	res.Window = l.Duration
	res.Consumed = k.receivedWin.Load()
	res.ConsumedPerS = float64(res.Consumed) / l.Duration.Seconds()
	res.ConsumedMBPerS = float64(res.Consumed) * float64(l.RecordSize) / l.Duration.Seconds() / 1e6
	if got := k.received.Load(); got >= filled {
		k.firstErr.set(fmt.Errorf("the consumers read all %d records before the window ended: fill longer (-fill) or read for less (-warmup, -duration)", filled))
	}
	if k.firstErr.err != nil {
		res.FirstErr = k.firstErr.err.Error()
	}
	return errors.Join(sampled.fill(res, l), profErr)
}

// reading is the consume-only load's clock, set once the first records arrived.
type reading struct {
	clk     atomic.Pointer[clock] // nil until the first records arrived
	started chan struct{}         // closed by the first consumer to receive records
	once    sync.Once
}

// readBack counts the records its client receives, those in the window by the time they
// arrive, until ctx ends or every one of the total records has been read by the consumers.
func (k *kafkaLoad) readBack(ctx context.Context, cl *kgo.Client, total int64, r *reading) {
	for k.received.Load() < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				k.firstErr.set(fmt.Errorf("fetch: %w", err))
			}
		})
		n := int64(fs.NumRecords())
		k.received.Add(n)
		if n > 0 {
			r.once.Do(func() { close(r.started) })
		}
		if clk := r.clk.Load(); clk != nil && clk.inWindow(clk.now()) {
			k.receivedWin.Add(n)
		}
	}
}

// writeFetchReport is WriteReport for the consume-only load: records read per second, the
// fill that preceded it, the broker figures (CPU per GB read), and the ratios.
func writeFetchReport(w io.Writer, load Load, results []*Result) {
	fmt.Fprintf(w, "load: consume only: %d producers filled the topic for %s (%d B records, %d partitions, acks=%s, codec %s), then %d consumers read it from the start, warmup %s, window %s\n\n",
		load.Producers, load.Fill, load.RecordSize, load.Partitions, load.Acks, load.Codec, load.Consumers, load.Warmup, load.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tconsumed rec/s\tconsumed MB/s\tfilled records\tfill rec/s\tproduce errs\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%d\t%.0f\t%d\t\n", r.Target, r.ConsumedPerS, r.ConsumedMBPerS, r.Records, r.RecordsPerS, r.ProduceErrs)
	}
	tw.Flush()
	fmt.Fprintln(w)
	writeBrokerTable(w, results)
	if len(results) < 2 {
		return
	}
	ratioTable(w, "consume throughput, row / column", results, func(r *Result) float64 { return r.ConsumedPerS })
}
