package netio

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// TestPausedConnectionIsNotRead guards against a client that keeps writing to a connection
// netio no longer serves (MaxInFlight reached): gnet would read all of it into memory, so
// netio stops reading the socket and the client's writes block in the kernel instead.
func TestPausedConnectionIsNotRead(t *testing.T) {
	cfg := testConfig()
	cfg.MaxInFlight = 1
	h := &recorder{} // never answers
	s, logs := startServer(t, cfg, h)
	c := dial(t, s)
	chunk := frame(bytes.Repeat([]byte("p"), 32<<10))
	// 64 MiB: more than MaxPausedInboundBytes (16 MiB) plus what the kernel's socket
	// buffers hold, so the writes can only end by blocking.
	if err := c.conn.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var err error
	for range 2048 {
		if _, err = c.conn.Write(chunk); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writing 64 MiB to a paused connection ended with %v, want a blocked write", err)
	}
	if containsAll(logs.String(), "too many unread bytes") {
		t.Fatal("the paused connection's bytes were read into memory")
	}
	if n := h.numServed(); n != cfg.MaxInFlight {
		t.Fatalf("served %d requests, want MaxInFlight = %d", n, cfg.MaxInFlight)
	}
}

// TestRequestThatDoesNotFitWaits: with QueuedMaxRequestBytes held by an unanswered
// request, a request that does not fit beside it is neither read nor served until the
// first is answered, while a small request of another connection that fits is served.
func TestRequestThatDoesNotFitWaits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 1 << 20
	cfg.QueuedMaxRequestBytes = 1 << 20
	hold := make(chan *Request, 1)
	h := &recorder{serveFn: func(r *Request) {
		if len(r.Frame) == 800<<10 {
			hold <- r
			return
		}
		echo(r)
	}}
	s, _ := startServer(t, cfg, h)
	big := dial(t, s)
	big.write(frame(make([]byte, 800<<10)))
	first := <-hold

	waiting := dial(t, s)
	waiting.write(frame(bytes.Repeat([]byte("w"), 500<<10)))
	waitFor(t, "the second request to wait for memory", func() bool { s.budget.mu.Lock(); defer s.budget.mu.Unlock(); return len(s.budget.waiters) == 1 })

	small := dial(t, s)
	small.send("fits")
	small.expect("fits")
	if got := h.numServed(); got != 2 {
		t.Fatalf("served %d requests while the 500 KiB one waits, want 2", got)
	}

	first.Respond([][]byte{[]byte("done")}, nil)
	big.expect("done")
	if got := waiting.recv(); len(got) != 500<<10 {
		t.Fatalf("the waiting request came back with %d bytes, want %d", len(got), 500<<10)
	}
	waitFor(t, "the budget to be free again", func() bool { return budgetFree(s) == cfg.QueuedMaxRequestBytes })
}

// TestMaxConnectionsRefusesAtAccept: connections beyond MaxConnections are closed at once
// and counted; a connection closed makes room for a new one.
func TestMaxConnectionsRefusesAtAccept(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 3
	s, logs := startServer(t, cfg, &recorder{serveFn: echo})
	before := refusedMaxConnections.Get()
	var open []*client
	for range cfg.MaxConnections {
		c := dial(t, s)
		c.send("hi")
		c.expect("hi")
		open = append(open, c)
	}
	over := dial(t, s)
	over.expectClosed()
	if got := refusedMaxConnections.Get() - before; got != 1 {
		t.Fatalf("refused connections counted %d, want 1", got)
	}
	waitFor(t, "the refusal to be logged", func() bool {
		return containsAll(logs.String(), "refusing connections", "reason=max_connections")
	})
	_ = open[0].conn.Close()
	waitFor(t, "a new connection to be accepted", func() bool {
		c := dial(t, s)
		defer c.conn.Close()
		if err := c.conn.SetDeadline(time.Now().Add(testTimeout)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.conn.Write(frame([]byte("again"))); err != nil {
			return false
		}
		got, err := c.tryRecv()
		return err == nil && string(got) == "again"
	})
}

// TestMaxConnectionsPerIPRefusesOnlyThatAddress: the per-address limit refuses the next
// connection from a full address and accepts one from another address.
func TestMaxConnectionsPerIPRefusesOnlyThatAddress(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnectionsPerIP = 2
	s, _ := startServer(t, cfg, &recorder{serveFn: echo})
	before := refusedMaxPerIP.Get()
	for range cfg.MaxConnectionsPerIP {
		c := dial(t, s)
		c.send("hi")
		c.expect("hi")
	}
	dial(t, s).expectClosed()
	if got := refusedMaxPerIP.Get() - before; got != 1 {
		t.Fatalf("refused connections counted %d, want 1", got)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: testTimeout}
	nc, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("cannot dial from 127.0.0.2: %v", err)
	}
	other := &client{t: t, conn: nc}
	t.Cleanup(func() { _ = nc.Close() })
	other.send("other address")
	other.expect("other address")
}

// TestRequestReadTimeoutClosesStalledFrame guards against a client that starts a request
// and never finishes it: its connection is closed after RequestReadTimeout.
func TestRequestReadTimeoutClosesStalledFrame(t *testing.T) {
	cfg := testConfig()
	cfg.RequestReadTimeout = time.Second
	h := &recorder{serveFn: echo}
	s, logs := startServer(t, cfg, h)
	before := closedReadTimeout.Get()
	stalled := dial(t, s)
	stalled.write(frame(make([]byte, 1<<20))[:300<<10])
	stalled.expectClosed()
	if got := closedReadTimeout.Get() - before; got != 1 {
		t.Fatalf("closes for request_read_timeout counted %d, want 1", got)
	}
	if !containsAll(logs.String(), "request_read_timeout") {
		t.Fatal("the close was not logged")
	}
	if h.numServed() != 0 {
		t.Fatal("the stalled request was served")
	}
	waitFor(t, "the budget to be free again", func() bool { return budgetFree(s) == cfg.QueuedMaxRequestBytes })
}

// TestIdleConnectionIsClosed: a connection with nothing sent and nothing awaited is closed
// after ConnectionsMaxIdle; one waiting for an answer is not.
func TestIdleConnectionIsClosed(t *testing.T) {
	cfg := testConfig()
	cfg.ConnectionsMaxIdle = time.Second
	hold := make(chan *Request, 1)
	h := &recorder{serveFn: func(r *Request) { hold <- r }}
	s, _ := startServer(t, cfg, h)
	waiting := dial(t, s)
	waiting.send("slow")
	r := <-hold
	idle := dial(t, s)
	idle.expectClosed()
	r.Respond([][]byte{[]byte("answered")}, nil)
	waiting.expect("answered")
}

// budgetFree returns the bytes of s's request budget not reserved.
func budgetFree(s *Server) int64 {
	s.budget.mu.Lock()
	defer s.budget.mu.Unlock()
	return s.budget.free
}

// TestClientThatNeverReadsStopsBeingServed guards against a client that pipelines requests
// with large responses and never reads them: once MaxOutboundBytes of its responses are
// unwritten, its other requests wait unserved instead of each building a response.
func TestClientThatNeverReadsStopsBeingServed(t *testing.T) {
	cfg := testConfig()
	cfg.MaxOutboundBytes = 16 << 20
	big := make([]byte, 8<<20)
	h := &recorder{serveFn: func(r *Request) { r.Respond([][]byte{big}, nil) }}
	s, _ := startServer(t, cfg, h)
	c := dial(t, s)
	for range 20 {
		c.send("give me 8 MiB")
	}
	// Responses of 8 MiB: the third puts more than 16 MiB unwritten (less what the
	// kernel took), so at most four are served.
	waitFor(t, "the first responses to be served", func() bool { return h.numServed() >= 3 })
	other := dial(t, s)
	other.send("x")
	if got := other.recv(); len(got) != len(big) {
		t.Fatalf("another connection got %d bytes, want %d", len(got), len(big))
	}
	if n := h.numServed(); n > 5 {
		t.Fatalf("served %d requests of a client that reads nothing, want at most 5 (4 + the other connection's)", n)
	}
	for i := range 20 {
		if got := c.recv(); len(got) != len(big) {
			t.Fatalf("response %d: %d bytes, want %d", i, len(got), len(big))
		}
	}
}

// TestDetachedRequestStopsCountingWhenAnswered: a detached frame belongs to the handler, so
// a client whose responses stay unwritten (it does not read) does not keep the request
// budget reserved for it.
func TestDetachedRequestStopsCountingWhenAnswered(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 1 << 20
	cfg.QueuedMaxRequestBytes = 1 << 20
	big := make([]byte, 32<<20)
	h := &recorder{serveFn: func(r *Request) {
		switch len(r.Frame) {
		case 1: // fills the socket: later responses of the connection wait unwritten
			r.Respond([][]byte{big}, nil)
		case 800 << 10:
			r.Detach()
			r.Respond([][]byte{[]byte("kept")}, nil)
		default:
			echo(r)
		}
	}}
	s, _ := startServer(t, cfg, h)
	nonReader := dial(t, s)
	nonReader.send("x")
	nonReader.write(frame(make([]byte, 800<<10)))
	waitFor(t, "the detached request to be answered", func() bool { return h.numServed() == 2 })
	// Only the first request's byte stays reserved, until its response is written.
	waitFor(t, "its reservation to be released", func() bool { return budgetFree(s) == cfg.QueuedMaxRequestBytes-1 })
	other := dial(t, s)
	other.write(frame(make([]byte, 500<<10)))
	if got := other.recv(); len(got) != 500<<10 {
		t.Fatalf("got %d bytes, want %d", len(got), 500<<10)
	}
}

// closeCounter is a gnet.Conn whose only used method is Close, which it counts.
type closeCounter struct {
	gnet.Conn
	closes atomic.Int64
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

// TestNewConnectionIsNeverIdle guards the order in openConn: sweeps running while
// connections open (on another goroutine, as the ticker does) must never close one as idle.
// Before lastActive was set ahead of the table insert, a sweep between the two read zero
// and closed the new connection during its first request.
func TestNewConnectionIsNeverIdle(t *testing.T) {
	s := New(testConfig(), &recorder{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	gc := &closeCounter{}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200_000 {
			c, ok := s.openConn(gc, addr, "PLAINTEXT", AnonymousPrincipal)
			if !ok {
				t.Error("connection refused")
				return
			}
			s.table.remove(c)
			connectionsGauge.Dec()
		}
	}()
	for sweeping := true; sweeping; {
		select {
		case <-done:
			sweeping = false
		default:
			s.sweep(s.clock.now())
		}
	}
	if n := gc.closes.Load(); n != 0 {
		t.Fatalf("%d connections closed as idle right after opening", n)
	}
}
