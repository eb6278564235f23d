package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The synchronous-producer load (Load.Sync): what an application that does
// producer.send(record).get() sees. Sync goroutines share one client with a small buffer
// (SyncBufferedBytes); each sends one record to partition 0 with ProduceSync (which sends
// at once, without lingering) and sends the next when it returns. A goroutine's round trip
// is from just before ProduceSync (waiting for room in the buffer counts) to its return.
// The load is closed: acknowledgements per second is the figure, not a set rate.

// runKafkaSync runs the sync load against a fresh topic at addr and fills res; probe, if
// not nil, reads the broker at the window's edges.
func runKafkaSync(ctx context.Context, l Load, addr string, probe *prober, res *Result, profile func(*clock) func() error) error {
	topic, err := newTopic(ctx, addr, l.Partitions)
	if err != nil {
		return err
	}
	k := &kafkaLoad{l: l, addr: addr, topic: topic}
	cl, err := kgo.NewClient(append(producerOpts(l, addr, SyncBufferedBytes), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	defer cl.Close()

	k.clk = newClock(l)
	harnessCPU := selfCPU(&k.clk)
	sampled := probeWindow(ctx, probe, &k.clk)
	profiled := profile(&k.clk)
	// A round trip still open at the end of the drain is abandoned.
	pctx, cancel := context.WithDeadline(ctx, k.clk.stopAt.Add(l.Drain))
	defer cancel()
	var wg sync.WaitGroup
	for range l.Sync {
		wg.Go(func() { k.produceSync(pctx, cl) })
	}
	wg.Wait()
	if ctx.Err() == nil && pctx.Err() != nil {
		k.firstErr.set(fmt.Errorf("producers did not finish within -drain %s: %w", l.Drain, pctx.Err()))
	}
	sampled.wait()
	profErr := profiled()

	res.HarnessCPUPercent = harnessCPU()
	fillSync(res, l, k.ackedWin.Load(), &k.ack)
	res.ProduceErrs = k.prodErrs.Load()
	if k.firstErr.err != nil {
		res.FirstErr = k.firstErr.err.Error()
	}
	return errors.Join(sampled.fill(res, l), profErr)
}

// produceSync is one synchronous producer: it sends a record to partition 0, waits for its
// acknowledgement and repeats until the clock's stop time. It stops at its first error, as
// the application's get() would throw.
func (k *kafkaLoad) produceSync(ctx context.Context, cl *kgo.Client) {
	payload := make([]byte, k.l.RecordSize)
	_, _ = rand.Read(payload)
	for ctx.Err() == nil && time.Now().Before(k.clk.stopAt) {
		v := make([]byte, len(payload))
		copy(v, payload)
		binary.LittleEndian.PutUint64(v, uint64(k.clk.now()))
		r := &kgo.Record{Topic: k.topic, Partition: 0, Value: v}
		err := cl.ProduceSync(ctx, r).FirstErr()
		if err != nil && ctx.Err() != nil {
			return // interrupted or past the drain: runKafkaSync says which
		}
		k.acked1(r, err)
		if err != nil {
			return
		}
	}
}

// runSinkSync runs the sync load against an in-process TCP sink and fills res: the
// goroutines share one connection, each record is a frame of its own, and the sink acks
// frames in the order they were written.
func runSinkSync(ctx context.Context, l Load, res *Result) error {
	clk := newClock(l)
	var (
		ack      Histogram
		ackedWin atomic.Int64
		firstErr errOnce
	)
	srv, err := startSink(func(int64) {})
	if err != nil {
		return err
	}
	defer srv.close()
	c, err := net.Dial("tcp", srv.addr())
	if err != nil {
		return fmt.Errorf("cannot connect to the tcp sink: %w", err)
	}
	defer c.Close()
	harnessCPU := selfCPU(&clk)

	// A goroutine queues its ack channel and writes its frame under mu, so waiters is in
	// the frames' order; waiters has room for every goroutine's one frame, never blocking.
	var mu sync.Mutex
	waiters := make(chan chan struct{}, l.Sync)
	dead := make(chan struct{}) // closed by the reader when the connection fails
	var readErr error           // written by the reader before it closes dead
	go func() {
		var b [1]byte
		for {
			if _, err := io.ReadFull(c, b[:]); err != nil {
				readErr = err
				close(dead)
				return
			}
			(<-waiters) <- struct{}{}
		}
	}()

	var wg sync.WaitGroup
	for range l.Sync {
		wg.Go(func() {
			frame := make([]byte, 8+l.RecordSize)
			binary.LittleEndian.PutUint32(frame[:4], 1)
			binary.LittleEndian.PutUint32(frame[4:8], uint32(l.RecordSize))
			_, _ = rand.Read(frame[8+headerBytes:])
			acked := make(chan struct{}, 1)
			for ctx.Err() == nil && time.Now().Before(clk.stopAt) {
				sent := clk.now()
				binary.LittleEndian.PutUint64(frame[8:], uint64(sent))
				mu.Lock()
				waiters <- acked
				_, err := c.Write(frame)
				mu.Unlock()
				if err != nil {
					firstErr.set(fmt.Errorf("tcp sink: %w", err))
					return
				}
				select {
				case <-acked:
				case <-dead:
					firstErr.set(fmt.Errorf("tcp sink: %w", readErr))
					return
				}
				if now := clk.now(); clk.inWindow(sent) {
					ackedWin.Add(1)
					ack.Record(time.Duration(now - sent))
				}
			}
		})
	}
	wg.Wait()
	res.HarnessCPUPercent = harnessCPU()
	fillSync(res, l, ackedWin.Load(), &ack)
	if firstErr.err != nil {
		res.FirstErr = firstErr.err.Error()
	}
	return nil
}

// fillSync puts the sync load's figures in res: records acknowledged in the window and
// their round trips.
func fillSync(res *Result, l Load, ackedWin int64, ack *Histogram) {
	win := l.Duration.Seconds()
	res.Window = l.Duration
	res.Records = ackedWin
	res.RecordsPerS = float64(res.Records) / win
	res.MBPerS = float64(res.Records) * float64(l.RecordSize) / win / 1e6
	res.Ack = ack.Summarize()
}

// writeSyncReport is WriteReport for the sync load: acknowledgements per second and round
// trips, the broker figures, and the ratios between targets.
func writeSyncReport(w io.Writer, load Load, results []*Result) {
	inflight := "default"
	if load.Inflight > 0 {
		inflight = fmt.Sprint(load.Inflight)
	}
	if load.Idempotent {
		inflight = "idempotent"
	}
	producers := "producers"
	if load.Sync == 1 {
		producers = "producer"
	}
	fmt.Fprintf(w, "load: %d synchronous %s sharing one client (MaxBufferedBytes %d), each sending one record to partition 0 of %d and waiting for its ack, %d B records, acks=%s, codec %s, in-flight %s, warmup %s, window %s\n\n",
		load.Sync, producers, SyncBufferedBytes, load.Partitions, load.RecordSize, load.Acks, load.Codec, inflight, load.Warmup, load.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tacks/s\tround trip ms p50/p90/p99/p99.9/max\terrs\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%d\t\n", r.Target, r.RecordsPerS, pcts(r.Ack), r.ProduceErrs)
	}
	tw.Flush()
	fmt.Fprintln(w)
	writeBrokerTable(w, results)
	if len(results) < 2 {
		return
	}
	ratioTable(w, "acks/s, row / column", results, func(r *Result) float64 { return r.RecordsPerS })
	ratioTable(w, "round trip p50, row / column", results, func(r *Result) float64 { return float64(r.Ack.P50) })
	ratioTable(w, "round trip p99, row / column", results, func(r *Result) float64 { return float64(r.Ack.P99) })
}
