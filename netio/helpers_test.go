package netio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests; reaching it is a failure, not a pacing.
const testTimeout = 15 * time.Second

// logBuffer collects a server's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testConfig is a small configuration listening on a free loopback port.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.EventLoops = 2
	cfg.MaxRequestBytes = 16 << 20
	cfg.MaxPausedInboundBytes = 0 // derived from MaxRequestBytes
	return cfg
}

// startServer starts a server for h and stops it when the test ends.
func startServer(t testing.TB, cfg Config, h Handler) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New(cfg, h, log)
	if err := s.Start(); err != nil {
		t.Fatalf("cannot start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("cannot stop server: %v", err)
		}
	})
	return s, logs
}

// client is a plain TCP Kafka-framing client.
type client struct {
	t    testing.TB
	conn net.Conn
}

func dial(t testing.TB, s *Server) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
	if err != nil {
		t.Fatalf("cannot dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn}
}

func frame(payload []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(out, payload...)
}

func (c *client) write(b []byte) {
	c.t.Helper()
	if err := c.conn.SetWriteDeadline(time.Now().Add(testTimeout)); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("cannot write: %v", err)
	}
}

func (c *client) send(payload string) { c.t.Helper(); c.write(frame([]byte(payload))) }

func (c *client) recv() []byte {
	c.t.Helper()
	b, err := c.tryRecv()
	if err != nil {
		c.t.Fatalf("cannot read response: %v", err)
	}
	return b
}

func (c *client) tryRecv() ([]byte, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c.conn, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(c.conn, b)
	return b, err
}

func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.recv(); string(got) != want {
		c.t.Fatalf("response %q, want %q", trunc(got), trunc([]byte(want)))
	}
}

// expectClosed reads until the server closes the connection; any response is a failure.
func (c *client) expectClosed() {
	c.t.Helper()
	b, err := c.tryRecv()
	if err == nil {
		c.t.Fatalf("got response %q, want the connection closed", trunc(b))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", testTimeout)
	}
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// holds checks that cond stays true for d: the one kind of check (nothing more happens)
// that polling for a change cannot express.
func holds(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder is a Handler that counts calls and lets each test decide how to answer.
type recorder struct {
	mu       sync.Mutex
	served   []*Request
	closed   []*Conn
	serveFn  func(r *Request)
	closedFn func(c *Conn)
}

func (h *recorder) Serve(r *Request) {
	h.mu.Lock()
	h.served = append(h.served, r)
	fn := h.serveFn
	h.mu.Unlock()
	if fn != nil {
		fn(r)
	}
}

func (h *recorder) ConnClosed(c *Conn) {
	h.mu.Lock()
	h.closed = append(h.closed, c)
	fn := h.closedFn
	h.mu.Unlock()
	if fn != nil {
		fn(c)
	}
}

func (h *recorder) numServed() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.served) }
func (h *recorder) numClosed() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.closed) }

func (h *recorder) request(i int) *Request { h.mu.Lock(); defer h.mu.Unlock(); return h.served[i] }

// echo answers with the frame itself, split in two parts to exercise iovecs.
func echo(r *Request) {
	half := len(r.Frame) / 2
	r.Respond([][]byte{r.Frame[:half], r.Frame[half:]}, nil)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
