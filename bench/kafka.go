package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// headerBytes lead every record value: the send time, in nanoseconds since the run's clock
// started (monotonic; producers and consumers share this process's clock).
const headerBytes = 8

func compression(codec string) (kgo.CompressionCodec, error) {
	switch codec {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("-codec must be none, gzip, snappy, lz4 or zstd (set to %q)", codec)
}

func acks(a string) kgo.Acks {
	switch a {
	case "0":
		return kgo.NoAck()
	case "1":
		return kgo.LeaderAck()
	}
	return kgo.AllISRAcks()
}

// clock is the run's time base and measured window. Every goroutine reads it.
type clock struct {
	base             time.Time
	winFrom, winTo   int64 // nanoseconds since base
	stopAt           time.Time
	winStart, winEnd time.Time
}

func newClock(l Load) clock {
	now := time.Now()
	return clock{
		base:     now,
		winFrom:  int64(l.Warmup),
		winTo:    int64(l.Warmup + l.Duration),
		stopAt:   now.Add(l.Warmup + l.Duration),
		winStart: now.Add(l.Warmup),
		winEnd:   now.Add(l.Warmup + l.Duration),
	}
}

func (c *clock) now() int64               { return int64(time.Since(c.base)) }
func (c *clock) inWindow(sent int64) bool { return sent >= c.winFrom && sent < c.winTo }

// pacer spaces one sender's records at rate records/s; rate 0 never waits. A sender that
// falls behind catches up by at most 100 ms worth of records, not by an unbounded burst.
type pacer struct {
	interval time.Duration
	next     time.Time
}

func newPacer(rate float64) pacer {
	if rate <= 0 {
		return pacer{}
	}
	return pacer{interval: time.Duration(float64(time.Second) / rate), next: time.Now()}
}

// due returns when the next record is due (zero time: now).
func (p *pacer) due() time.Time { return p.next }

// sent advances to the next record's time.
func (p *pacer) sent() {
	if p.interval == 0 {
		return
	}
	p.next = p.next.Add(p.interval)
	if floor := time.Now().Add(-100 * time.Millisecond); p.next.Before(floor) {
		p.next = floor
	}
}

// errOnce keeps the first error of many goroutines.
type errOnce struct {
	once sync.Once
	err  error
}

func (e *errOnce) set(err error) { e.once.Do(func() { e.err = err }) }

// kafkaLoad is one run of the load against one Kafka-compatible address.
type kafkaLoad struct {
	l     Load
	addr  string
	topic string
	clk   clock

	ack, e2e                  Histogram
	acked, ackedWin, prodErrs atomic.Int64
	received, receivedWin     atomic.Int64
	firstErr                  errOnce
}

// createTopic creates the topic and waits until every partition has a leader.
func createTopic(ctx context.Context, addr, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30_000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("cannot create topic %s: %w", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return fmt.Errorf("cannot create topic %s: %w", topic, err)
	}
	for {
		mreq := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(topic)
		mreq.Topics = append(mreq.Topics, mt)
		mresp, err := mreq.RequestWith(ctx, cl)
		if err == nil && len(mresp.Topics) == 1 && mresp.Topics[0].ErrorCode == 0 && int32(len(mresp.Topics[0].Partitions)) == partitions {
			ready := true
			for _, p := range mresp.Topics[0].Partitions {
				ready = ready && p.ErrorCode == 0 && p.Leader >= 0
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leader for every partition: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runKafka creates a fresh topic at addr, runs the load against it and fills res. probe,
// if not nil, reads the broker at the window's edges.
func runKafka(ctx context.Context, l Load, addr string, probe *prober, res *Result, profile func(*clock) func() error) error {
	topic, err := newTopic(ctx, addr, l.Partitions)
	if err != nil {
		return err
	}
	k := &kafkaLoad{l: l, addr: addr, topic: topic}
	popts := producerOpts(l, addr, 64<<20)
	producers := make([]*kgo.Client, l.Producers)
	for i := range producers {
		if producers[i], err = kgo.NewClient(popts...); err != nil {
			return err
		}
		defer producers[i].Close()
	}

	consumeCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
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
		cwg.Go(func() { k.consume(consumeCtx, cl) })
	}

	k.clk = newClock(l)
	harnessCPU := selfCPU(&k.clk)
	sampled := probeWindow(ctx, probe, &k.clk)
	profiled := profile(&k.clk)

	var pwg sync.WaitGroup
	for _, cl := range producers {
		pwg.Go(func() { k.produce(ctx, cl, l.Rate/float64(l.Producers)) })
	}
	pwg.Wait()
	drainCtx, cancelDrain := context.WithTimeout(ctx, l.Drain)
	defer cancelDrain()
	for _, cl := range producers {
		if err := cl.Flush(drainCtx); err != nil {
			k.firstErr.set(fmt.Errorf("producers did not finish within -drain %s: %w", l.Drain, err))
		}
	}
	if l.Consumers > 0 && l.Acks != "0" {
		for k.received.Load() < k.acked.Load() && drainCtx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	stopConsumers()
	cwg.Wait()
	sampled.wait()
	profErr := profiled()

	res.HarnessCPUPercent = harnessCPU()
	win := l.Duration.Seconds()
	res.Window = l.Duration
	res.Records = k.ackedWin.Load()
	res.RecordsPerS = float64(res.Records) / win
	res.MBPerS = float64(res.Records) * float64(l.RecordSize) / win / 1e6
	res.ProduceErrs = k.prodErrs.Load()
	res.Consumed = k.receivedWin.Load()
	res.ConsumedPerS = float64(res.Consumed) / win
	if l.Consumers > 0 && l.Acks != "0" {
		res.Missing = max(k.acked.Load()-k.received.Load(), 0)
	}
	res.Ack = k.ack.Summarize()
	res.E2E = k.e2e.Summarize()
	if k.firstErr.err != nil {
		res.FirstErr = k.firstErr.err.Error()
	}
	return errors.Join(sampled.fill(res, l), profErr)
}

// newTopic creates a fresh benchmark topic at addr and returns its name.
func newTopic(ctx context.Context, addr string, partitions int32) (string, error) {
	topic := fmt.Sprintf("kbench-%d", time.Now().UnixNano())
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return topic, createTopic(cctx, addr, topic, partitions)
}

// producerOpts are a producer client's options under l, with a buffer of bufferedBytes.
func producerOpts(l Load, addr string, bufferedBytes int) []kgo.Opt {
	codec, _ := compression(l.Codec)
	popts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RequiredAcks(acks(l.Acks)),
		kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedBytes(bufferedBytes),
	}
	if l.Linger > 0 {
		popts = append(popts, kgo.ProducerLinger(l.Linger))
	}
	if !l.Idempotent {
		popts = append(popts, kgo.DisableIdempotentWrite())
	}
	if l.Inflight > 0 {
		popts = append(popts, kgo.MaxProduceRequestsInflightPerBroker(l.Inflight))
	}
	return popts
}

// windowSamples reads a broker's counters at the edges of a measured window, from its own
// goroutine; wait and then fill are called from the load's goroutine.
type windowSamples struct {
	probe      *prober // nil: nothing is read
	wg         sync.WaitGroup
	a, b       snapshot // written by the sampling goroutine, read after wait
	errA, errB error
}

// probeWindow starts reading probe (if not nil) at clk's window edges.
func probeWindow(ctx context.Context, probe *prober, clk *clock) *windowSamples {
	s := &windowSamples{probe: probe}
	if probe != nil {
		s.wg.Go(func() {
			time.Sleep(time.Until(clk.winStart))
			s.a, s.errA = probe.snapshot(ctx)
			probe.sampleRSS()
			time.Sleep(time.Until(clk.winEnd))
			probe.stopRSS()
			s.b, s.errB = probe.snapshot(ctx)
		})
	}
	return s
}

// wait waits for the window's end snapshot.
func (s *windowSamples) wait() { s.wg.Wait() }

// fill puts the broker figures over the window in res; call it after wait.
func (s *windowSamples) fill(res *Result, l Load) error {
	if s.probe == nil {
		return nil
	}
	if err := errors.Join(s.errA, s.errB); err != nil {
		return fmt.Errorf("cannot read the broker's counters: %w", err)
	}
	fillBrokerFigures(res, l, s.probe, s.a, s.b)
	return nil
}

// produce sends records until the clock's stop time, at rate records/s (0: as fast as the
// client's buffer allows).
func (k *kafkaLoad) produce(ctx context.Context, cl *kgo.Client, rate float64) {
	payload := make([]byte, k.l.RecordSize)
	_, _ = rand.Read(payload)
	pace := newPacer(rate)
	for ctx.Err() == nil {
		if d := time.Until(pace.due()); d > 0 {
			time.Sleep(d)
		}
		if !time.Now().Before(k.clk.stopAt) {
			return
		}
		v := make([]byte, len(payload))
		copy(v, payload)
		binary.LittleEndian.PutUint64(v, uint64(k.clk.now()))
		cl.Produce(ctx, &kgo.Record{Topic: k.topic, Value: v}, k.acked1)
		pace.sent()
	}
}

// acked1 is the produce promise: it runs in the client's goroutines.
func (k *kafkaLoad) acked1(r *kgo.Record, err error) {
	now := k.clk.now()
	sent := int64(binary.LittleEndian.Uint64(r.Value))
	if err != nil {
		k.prodErrs.Add(1)
		k.firstErr.set(fmt.Errorf("produce: %w", err))
		return
	}
	k.acked.Add(1)
	if k.clk.inWindow(sent) {
		k.ackedWin.Add(1)
		k.ack.Record(time.Duration(now - sent))
	}
}

// consume reads its partitions until ctx ends.
func (k *kafkaLoad) consume(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				k.firstErr.set(fmt.Errorf("fetch: %w", err))
			}
		})
		now := k.clk.now()
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) < headerBytes {
				return
			}
			sent := int64(binary.LittleEndian.Uint64(r.Value))
			k.received.Add(1)
			if k.clk.inWindow(sent) {
				k.receivedWin.Add(1)
				k.e2e.Record(time.Duration(now - sent))
			}
		})
	}
}

// fillBrokerFigures derives the per-window broker figures from two snapshots.
func fillBrokerFigures(res *Result, l Load, p *prober, a, b snapshot) {
	secs := b.at.Sub(a.at).Seconds()
	if p.pid > 0 {
		cpu := b.cpu - a.cpu
		moved := res.Records // produced in the window, or read in it by the consume-only load
		if l.Fill > 0 {
			moved = res.Consumed
		}
		if gb := float64(moved) * float64(l.RecordSize) / 1e9; gb > 0 {
			res.CPUSecPerGB = cpu / gb
		}
		res.CPUPercent = 100 * cpu / secs
		res.MaxRSSBytes = p.maxRSS.Load()
		if _, hwm, err := procMem(p.pid); err == nil {
			res.PeakRSSBytes = hwm
		}
	}
	if a.metrics != nil && b.metrics != nil {
		if d, ok := delta(a.metrics, b.metrics, putSeries); ok {
			res.PutsPerS = d / secs
		}
		if d, ok := delta(a.metrics, b.metrics, [][]string{{hedgeSeries}}); ok {
			res.HedgesPerS = d / secs
		}
		if d, ok := delta(a.metrics, b.metrics, getSeries); ok {
			res.GetsPerS = d / secs
		}
		if d, ok := delta(a.metrics, b.metrics, [][]string{{etcdCommitSeries}}); ok {
			res.EtcdCommitsPerS = d / secs
		}
	}
	if a.etcdRev >= 0 && b.etcdRev >= 0 {
		res.EtcdWritesPerS = float64(b.etcdRev-a.etcdRev) / secs
	}
}
