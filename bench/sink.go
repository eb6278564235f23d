package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The loopback ceiling: the same records, batched as a Kafka producer batches them (up to
// sinkBatchBytes per request, flushed after the linger, with as many batches in flight as
// the producers may have requests), written over loopback TCP to a
// server that reads every batch, looks at every record's send time and acks the batch with
// one byte. No storage, no protocol beyond a length prefix: what KafScale's network path
// could at best do on this machine.
const (
	sinkBatchBytes = 1 << 20 // franz-go's default max batch is 1,000,012 bytes
	sinkLinger     = 10 * time.Millisecond
)

// sinkServer reads frames of [4-byte count][4-byte record size][records] and acks each.
type sinkServer struct {
	ln     net.Listener
	onRec  func(sent int64)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startSink(onRec func(sent int64)) (*sinkServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the tcp sink: %w", err)
	}
	s := &sinkServer{ln: ln, onRec: onRec, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *sinkServer) addr() string { return s.ln.Addr().String() }

func (s *sinkServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(c) })
	}
}

func (s *sinkServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 256<<10)
	var hdr [8]byte
	buf := make([]byte, sinkBatchBytes+64<<10)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n, size := int(binary.LittleEndian.Uint32(hdr[:4])), int(binary.LittleEndian.Uint32(hdr[4:]))
		if size < headerBytes || n*size > len(buf) {
			return
		}
		body := buf[:n*size]
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		for off := 0; off < len(body); off += size {
			s.onRec(int64(binary.LittleEndian.Uint64(body[off:])))
		}
		if _, err := c.Write([]byte{1}); err != nil {
			return
		}
	}
}

func (s *sinkServer) close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// runSink runs the load's producers against an in-process TCP sink and fills res; its
// "e2e" latency is send to the sink's read of the record.
func runSink(ctx context.Context, l Load, res *Result) error {
	clk := newClock(l)
	var (
		ack, e2e              Histogram
		ackedWin, receivedWin atomic.Int64
		firstErr              errOnce
	)
	srv, err := startSink(func(sent int64) {
		if clk.inWindow(sent) {
			receivedWin.Add(1)
			e2e.Record(time.Duration(clk.now() - sent))
		}
	})
	if err != nil {
		return err
	}
	defer srv.close()
	harnessCPU := selfCPU(&clk)
	var wg sync.WaitGroup
	for range l.Producers {
		c, err := net.Dial("tcp", srv.addr())
		if err != nil {
			return fmt.Errorf("cannot connect to the tcp sink: %w", err)
		}
		defer c.Close()
		wg.Go(func() {
			if err := sinkProduce(ctx, l, &clk, c, l.Rate/float64(l.Producers), &ack, &ackedWin); err != nil {
				firstErr.set(err)
			}
		})
	}
	wg.Wait()
	res.HarnessCPUPercent = harnessCPU()
	win := l.Duration.Seconds()
	res.Window = l.Duration
	res.Records = ackedWin.Load()
	res.RecordsPerS = float64(res.Records) / win
	res.MBPerS = float64(res.Records) * float64(l.RecordSize) / win / 1e6
	res.Consumed = receivedWin.Load()
	res.ConsumedPerS = float64(res.Consumed) / win
	res.Ack, res.E2E = ack.Summarize(), e2e.Summarize()
	if firstErr.err != nil {
		res.FirstErr = firstErr.err.Error()
	}
	return nil
}

// sinkProduce is one producer of the tcp-sink target: it paces records like a Kafka producer,
// batches them, keeps up to l.Inflight (default 1, as franz-go) batches unacknowledged, and
// records each record's send-to-ack latency.
func sinkProduce(ctx context.Context, l Load, clk *clock, c net.Conn, rate float64, ack *Histogram, ackedWin *atomic.Int64) error {
	type frame struct{ sent []int64 }
	limit := max(l.Inflight, 1)
	inflight := make(chan frame, limit)
	slots := make(chan struct{}, limit) // one per unacknowledged batch
	readErr := make(chan error, 1)
	go func() {
		var b [1]byte
		for f := range inflight {
			if _, err := io.ReadFull(c, b[:]); err != nil {
				readErr <- err
				<-slots
				for range inflight { // unblock the writer
					<-slots
				}
				return
			}
			<-slots
			now := clk.now()
			for _, s := range f.sent {
				if clk.inWindow(s) {
					ackedWin.Add(1)
					ack.Record(time.Duration(now - s))
				}
			}
		}
		readErr <- nil
	}()

	payload := make([]byte, l.RecordSize)
	_, _ = rand.Read(payload)
	perBatch := max(sinkBatchBytes/l.RecordSize, 1)
	batch := make([]byte, 8, 8+perBatch*l.RecordSize)
	var sent []int64
	var firstAt time.Time
	linger := sinkLinger
	if l.Linger > 0 {
		linger = l.Linger
	}
	var werr error
	flush := func() {
		if len(sent) == 0 || werr != nil {
			return
		}
		binary.LittleEndian.PutUint32(batch[:4], uint32(len(sent)))
		binary.LittleEndian.PutUint32(batch[4:8], uint32(l.RecordSize))
		slots <- struct{}{} // blocks while the in-flight limit is unacknowledged
		inflight <- frame{sent: sent}
		if _, err := c.Write(batch); err != nil {
			werr = err
		}
		batch, sent = batch[:8], make([]int64, 0, perBatch)
	}
	pace := newPacer(rate)
	for ctx.Err() == nil && werr == nil {
		due := pace.due()
		if len(sent) > 0 && (due.IsZero() || firstAt.Add(linger).Before(due)) && !firstAt.Add(linger).After(time.Now()) {
			flush()
			continue
		}
		if d := time.Until(due); d > 0 {
			wake := due
			if len(sent) > 0 && firstAt.Add(linger).Before(wake) {
				wake = firstAt.Add(linger)
			}
			time.Sleep(time.Until(wake))
			continue
		}
		if !time.Now().Before(clk.stopAt) {
			break
		}
		if len(sent) == 0 {
			firstAt = time.Now()
		}
		s := clk.now()
		off := len(batch)
		batch = append(batch, payload...)
		binary.LittleEndian.PutUint64(batch[off:], uint64(s))
		sent = append(sent, s)
		pace.sent()
		if len(sent) == perBatch {
			flush()
		}
	}
	flush()
	close(inflight)
	rerr := <-readErr
	if werr != nil || (rerr != nil && !errors.Is(rerr, net.ErrClosed)) {
		return fmt.Errorf("tcp sink: %w", errors.Join(werr, rerr))
	}
	return nil
}
