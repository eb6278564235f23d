package netio

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// streamReadChunk is how much one read of a stream connection takes from its socket (or
// TLS session), as gnet's read buffer is for its connections.
const streamReadChunk = 64 << 10

// closeFlushTimeout bounds how long a closing stream connection tries to write the
// responses queued before its close, as gnet flushes what it buffers on close: a client
// that does not read must not keep its connection (and goroutines) alive.
const closeFlushTimeout = 5 * time.Second

// errConnClosed is what the write callbacks of a closed stream connection get.
var errConnClosed = errors.New("netio: connection closed")

// streamConn serves one connection accepted by the standard library (a TLS listener, or a
// further plaintext one) through the same frame handling as gnet's connections: it
// presents the part of gnet.Conn that Conn uses, and emulates a gnet event loop with one
// goroutine per connection (loop) that runs onTraffic, the write callbacks and onClose
// one at a time, fed by a reader and a writer goroutine. Reading stops while netio pauses
// the connection, so the budget and limits of config.go hold as for gnet connections.
//
// Goroutines: loop owns in and inHead; the reader owns its chunk; the writer owns nc's
// write side. Fields after mu are guarded by it.
type streamConn struct {
	gnet.Conn // nil: netio calls only the methods defined below

	nc  net.Conn // the TLS session once the handshake is done, else raw; set before start
	raw net.Conn // the socket: closed by Server.Stop, its deadline set by Close
	c   *Conn
	srv *Server

	in     []byte // inbound bytes received, not yet taken; owned by loop
	inHead int

	out atomic.Int64 // bytes handed to the writer and not yet written

	mu      sync.Mutex
	tasks   []func()      // for loop, in order
	writes  []streamWrite // for the writer, in order; a nil iov is the close
	reading bool          // the reader may read (setReading)
	closing bool          // Close was called
	wake    chan struct{} // cap 1: tasks were queued
	wakeW   chan struct{} // cap 1: writes were queued
	readOn  *sync.Cond    // on mu: reading became true or the connection closes
	gone    bool          // loop ran onClose
}

type streamWrite struct {
	iov [][]byte
	cb  gnet.AsyncCallback
}

func newStreamConn(s *Server, nc net.Conn) *streamConn {
	sc := &streamConn{nc: nc, raw: nc, srv: s, reading: true, wake: make(chan struct{}, 1), wakeW: make(chan struct{}, 1)}
	sc.readOn = sync.NewCond(&sc.mu)
	return sc
}

// start runs the connection's goroutines; c is its netio state, already counted in.
func (sc *streamConn) start(c *Conn) {
	sc.c = c
	s := sc.srv
	s.streams.Add(3)
	go func() { defer s.streams.Done(); sc.loop() }()
	go func() { defer s.streams.Done(); sc.read() }()
	go func() { defer s.streams.Done(); sc.write() }()
}

// post queues f for loop. Safe from any goroutine.
func (sc *streamConn) post(f func()) {
	sc.mu.Lock()
	sc.tasks = append(sc.tasks, f)
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// loop is the connection's event loop: it exits after running onClose.
func (sc *streamConn) loop() {
	for range sc.wake {
		sc.mu.Lock()
		tasks := sc.tasks
		sc.tasks = nil
		sc.mu.Unlock()
		for _, f := range tasks {
			f()
			if sc.gone {
				return
			}
		}
	}
}

// traffic runs onTraffic on loop and closes the connection if it says so.
func (sc *streamConn) traffic() {
	if sc.gone {
		return
	}
	if sc.c.onTraffic(sc) == gnet.Close {
		_ = sc.Close()
	}
}

// read is the reader goroutine: one chunk at a time, each handed to loop before the next
// read, and none while reading is paused.
func (sc *streamConn) read() {
	buf := make([]byte, streamReadChunk)
	done := make(chan struct{}, 1)
	for {
		sc.mu.Lock()
		for !sc.reading && !sc.closing {
			sc.readOn.Wait()
		}
		sc.mu.Unlock()
		n, err := sc.nc.Read(buf)
		if n > 0 {
			sc.post(func() {
				sc.in = append(sc.in, buf[:n]...)
				sc.traffic()
				done <- struct{}{}
			})
			select {
			case <-done:
			case <-sc.srv.streamsDone:
				// Stop closes the sockets, but the closed task below is what ends loop:
				// leaving without it (when done and streamsDone were both ready) left
				// loop waiting for ever, and Stop waiting for loop.
				sc.post(func() { sc.closed(net.ErrClosed) })
				return
			}
		}
		if err != nil {
			sc.post(func() { sc.closed(err) })
			return
		}
	}
}

// closed runs onClose on loop, once.
func (sc *streamConn) closed(err error) {
	if sc.gone {
		return
	}
	sc.gone = true
	_ = sc.Close() // stops the writer if the reader saw the end first
	sc.mu.Lock()
	sc.readOn.Broadcast()
	sc.mu.Unlock()
	sc.srv.connClosed(sc.c, err)
}

// write is the writer goroutine: it writes each batch whole, then has loop run its
// callback; the close item closes the socket, which ends the reader.
func (sc *streamConn) write() {
	var failed error
	// Small responses written one by one would each become a TLS record of their own.
	bw := bufio.NewWriterSize(sc.nc, 16<<10)
	for range sc.wakeW {
		sc.mu.Lock()
		ws := sc.writes
		sc.writes = nil
		sc.mu.Unlock()
		for _, w := range ws {
			if w.iov == nil {
				_ = sc.nc.Close()
				return
			}
			err := failed
			if err == nil {
				for _, p := range w.iov {
					if _, err = bw.Write(p); err != nil {
						break
					}
				}
				if err == nil {
					err = bw.Flush()
				}
				failed = err
			}
			for _, p := range w.iov {
				sc.out.Add(-int64(len(p)))
			}
			if failed != nil {
				_ = sc.nc.Close()
			}
			cb := w.cb
			sc.post(func() {
				if cb != nil {
					_ = cb(sc, err)
				}
			})
		}
	}
}

// Read copies buffered inbound bytes into p. Called on loop.
func (sc *streamConn) Read(p []byte) (int, error) {
	n := copy(p, sc.in[sc.inHead:])
	sc.advance(n)
	return n, nil
}

// Peek returns the next n buffered bytes without taking them. Called on loop.
func (sc *streamConn) Peek(n int) ([]byte, error) {
	if len(sc.in)-sc.inHead < n {
		return nil, errors.New("netio: not enough buffered bytes")
	}
	return sc.in[sc.inHead : sc.inHead+n], nil
}

// Discard drops the next n buffered bytes. Called on loop.
func (sc *streamConn) Discard(n int) (int, error) {
	n = min(n, len(sc.in)-sc.inHead)
	sc.advance(n)
	return n, nil
}

func (sc *streamConn) advance(n int) {
	sc.inHead += n
	switch {
	case sc.inHead == len(sc.in):
		sc.in, sc.inHead = sc.in[:0], 0
		if cap(sc.in) > 4*streamReadChunk {
			sc.in = nil // a large frame's bytes came through; do not keep its room
		}
	case sc.inHead >= streamReadChunk:
		n := copy(sc.in, sc.in[sc.inHead:])
		sc.in, sc.inHead = sc.in[:n], 0
	}
}

// InboundBuffered returns how many inbound bytes are buffered. Called on loop.
func (sc *streamConn) InboundBuffered() int { return len(sc.in) - sc.inHead }

// OutboundBuffered returns the bytes handed to the writer and not yet written.
func (sc *streamConn) OutboundBuffered() int { return int(sc.out.Load()) }

// AsyncWritev queues bs for the writer; cb runs on loop once they are written. Safe from
// any goroutine.
func (sc *streamConn) AsyncWritev(bs [][]byte, cb gnet.AsyncCallback) error {
	n := 0
	for _, p := range bs {
		n += len(p)
	}
	sc.mu.Lock()
	if sc.closing {
		sc.mu.Unlock()
		if cb != nil {
			sc.post(func() { _ = cb(sc, errConnClosed) })
		}
		return nil
	}
	sc.out.Add(int64(n))
	sc.writes = append(sc.writes, streamWrite{iov: bs, cb: cb})
	sc.mu.Unlock()
	select {
	case sc.wakeW <- struct{}{}:
	default:
	}
	return nil
}

// Wake has loop run onTraffic. Safe from any goroutine.
func (sc *streamConn) Wake(gnet.AsyncCallback) error {
	sc.post(sc.traffic)
	return nil
}

// Close closes the connection once the writes queued before it went out (within
// closeFlushTimeout). Safe from any goroutine.
func (sc *streamConn) Close() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closing {
		return nil
	}
	sc.closing = true
	sc.readOn.Broadcast()
	_ = sc.raw.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	sc.writes = append(sc.writes, streamWrite{})
	select {
	case sc.wakeW <- struct{}{}:
	default:
	}
	return nil
}

// RemoteAddr returns the client's address.
func (sc *streamConn) RemoteAddr() net.Addr { return sc.nc.RemoteAddr() }

// setReading stops or resumes the reader. Called on loop.
func (sc *streamConn) setReading(on bool) {
	sc.mu.Lock()
	sc.reading = on
	if on {
		sc.readOn.Broadcast()
	}
	sc.mu.Unlock()
}
