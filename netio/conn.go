package netio

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/kafscale/kafscale/sasl"
)

// maxFramesPerEvent caps the frames one OnTraffic call takes, so a client that pipelines
// hundreds of small requests cannot keep its event loop from other connections; the rest
// is taken after a Wake, which gnet queues behind pending I/O events.
const maxFramesPerEvent = 64

// Conn is one client connection.
//
// Dispatch model: each connection has a mailbox of requests not yet served, drained by at
// most one dispatcher goroutine, started when frames arrive and none is running, and
// exiting when the mailbox is empty. That gives per-connection order and one Serve at a
// time per connection without a goroutine per request or per read/write, and an idle
// connection costs no goroutine. Go's scheduler spreads the active connections over the
// CPUs (a shared pool would need its own per-connection queueing to keep order).
//
// Goroutines: the connection's gnet event loop runs onOpen, onTraffic, onClose and the
// write callbacks; one dispatcher goroutine at a time runs drain and Handler.Serve;
// handler goroutines answer requests. Fields after mu are guarded by it.
// Lock order: Conn.mu and Server.stalledMu are never held together.
type Conn struct {
	id     uint64
	remote net.Addr
	ip     netip.Addr // remote's address, as counted for MaxConnectionsPerIP
	srv    *Server
	// listener is the name of the listener the connection came on; principal is who the
	// client is ("User:CN=..." from a client certificate, else AnonymousPrincipal). Both
	// are set before the first Serve and not changed after.
	listener  string
	principal string
	// auth is the SASL state of a connection on a SASL listener (nil on others), set
	// before the first Serve; the handler drives it (sasl.Session says who may call what).
	auth *sasl.Session
	// gc is used off its event loop only through its concurrency-safe methods
	// (AsyncWritev, Wake, Close), only while mu is held and closed is false: after onClose
	// gnet may have shut down its event loop, and poking it then would write to a closed
	// eventfd.
	gc gnet.Conn

	mu             sync.Mutex
	mailbox        reqQueue      // requests not yet served, in arrival order
	slots          reqQueue      // requests not yet written, in arrival order (the response queue)
	writes         []*writeBatch // AsyncWritev calls whose callback has not run
	inFlight       int           // requests without an answer yet
	pendingOut     int           // answered response bytes not yet handed to gnet's buffer
	running        bool          // a dispatcher goroutine owns the mailbox
	closeRequested bool          // a request called Close: serve nothing more
	closing        bool          // the Close slot was reached: write nothing more
	closed         bool          // onClose ran
	closeNotified  bool          // Handler.ConnClosed was called (or is being called)
	wakeOnSlot     bool          // paused on MaxInFlight: Wake when written responses free slots
	wakeOnOut      bool          // paused on MaxOutboundBytes: Wake when writes drain
	waitDrain      bool          // more to write once gnet's outbound buffer is empty (writeChunk)
	dispatchWait   bool          // the dispatcher stopped at MaxOutboundBytes unwritten (drain)
	stallTicks     int           // ticks spent waiting for the client to read, for the ticker's backoff
	mutedUntil     time.Time     // serve nothing before this (Mute)
	muteTimer      bool          // a timer restarts the dispatcher when the mute ends

	// partial is a large frame being read straight into its own buffer as its bytes
	// arrive, and partialN how many it holds; owned by the event loop (onTraffic, onClose),
	// so not guarded by mu. See directReadMin.
	partial  *Request
	partialN int

	// Owned by the event loop as well. headSize is the size of the request whose size
	// prefix is still in gnet's buffer and for which the budget was reserved (headAdmitted).
	// readOff says netio stopped reading the socket (readControl); lastInbound is
	// gnet's buffered byte count when onTraffic last returned, to tell new bytes from a
	// Wake.
	headSize     int64
	headAdmitted bool
	readOff      bool
	lastInbound  int

	// Written on the event loop, read by the sweeps (Server.sweep): when bytes last
	// arrived or a response was last handed to gnet, when the request now arriving began
	// to arrive (0: none), and whether reading is paused (which stops that clock).
	lastActive atomic.Int64
	readStart  atomic.Int64
	paused     atomic.Bool

	// Guarded by budget.mu: the connection waits in line for need bytes, or was handed
	// grant bytes for its next request (see budget).
	waiting bool
	need    int64
	grant   int64
}

// directReadMin is the smallest frame read into its own buffer before all of it has
// arrived. A frame left to gnet until complete is copied three times: from each read into
// gnet's ring buffer, again each time that buffer doubles to make room, and out of it
// into the frame. Read as it arrives it is copied once, and the ring buffer stays small.
// The frame's buffer is only allocated once a quarter of it is there, so a client cannot
// make the broker allocate more than four times the bytes it really sent.
const directReadMin = 256 << 10

// ID returns the connection's number, unique within its Server.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the client's address. It is safe to call from any goroutine.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Listener returns the name of the listener the connection came on.
func (c *Conn) Listener() string { return c.listener }

// Principal returns the connection's principal in Kafka's form: on a SASL listener
// "User:" and the authenticated user; otherwise "User:" and the client certificate's
// subject (RFC 2253, as Kafka's default principal builder); else AnonymousPrincipal. It is
// safe to call from any goroutine.
func (c *Conn) Principal() string {
	if c.auth != nil {
		if u := c.auth.User(); u != "" {
			return "User:" + u
		}
		return AnonymousPrincipal
	}
	return c.principal
}

// SASL returns the connection's SASL state, or nil if its listener does not use SASL.
func (c *Conn) SASL() *sasl.Session { return c.auth }

// cloneAddr copies a gnet address: gnet recycles the bytes of a TCP zone when the
// connection closes, and the handler may keep the address longer.
func cloneAddr(a net.Addr) net.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return &net.TCPAddr{IP: append(net.IP(nil), t.IP...), Port: t.Port, Zone: strings.Clone(t.Zone)}
	}
	return a
}

// wakeLocked asks gnet to run onTraffic again. Conn.mu must be held.
func (c *Conn) wakeLocked() {
	if c.closed {
		return
	}
	if err := c.gc.Wake(nil); err != nil {
		c.srv.log.Warn("cannot wake connection", "conn", c.id, "remote", c.remote, "err", err)
	}
}

// Pause reasons.
const (
	pauseNone = iota
	pauseInFlight
	pauseOutbound
	pauseClosing
	pauseMemory // the next request does not fit in QueuedMaxRequestBytes
)

// onTraffic runs on the event loop: it takes complete frames out of gnet's inbound buffer
// and hands them to the dispatcher. It never blocks.
func (c *Conn) onTraffic(gc gnet.Conn) gnet.Action {
	s := c.srv
	now := s.clock.now()
	arrived := gc.InboundBuffered() > c.lastInbound // rather than a Wake
	if arrived {
		c.lastActive.Store(now)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return gnet.Close
	}
	var discarded []*Request
	draining := false
	if c.waitDrain && !c.closing {
		if gc.OutboundBuffered() == 0 {
			c.waitDrain = false
			discarded = c.flushLocked()
		} else {
			draining = true
		}
	}
	unwritten := c.slots.len()
	outBytes := c.pendingOut + gc.OutboundBuffered()
	stop := c.closeRequested || c.closing
	c.mu.Unlock()
	s.finish(discarded)
	if draining {
		s.addStalled(c) // the ticker looks again
	}

	var frames [maxFramesPerEvent]*Request
	n := 0
	pause := pauseNone
	for n < len(frames) {
		switch {
		case stop:
			pause = pauseClosing
		case unwritten+n >= s.cfg.MaxInFlight:
			pause = pauseInFlight
		case outBytes > s.cfg.MaxOutboundBytes:
			pause = pauseOutbound
		}
		if pause != pauseNone {
			break
		}
		if r := c.partial; r != nil {
			m, _ := gc.Read(r.Frame[c.partialN:])
			c.partialN += m
			if c.partialN < len(r.Frame) {
				break // the rest has not arrived yet
			}
			c.partial, c.partialN = nil, 0
			c.readStart.Store(0)
			frames[n] = r
			n++
			continue
		}
		buffered := gc.InboundBuffered()
		if buffered < 4 {
			break
		}
		hdr, err := gc.Peek(4)
		if err != nil {
			break
		}
		size := int32(binary.BigEndian.Uint32(hdr))
		limit := s.cfg.MaxRequestBytes
		if c.auth != nil && !c.auth.Authenticated() {
			limit = min(limit, sasl.MaxReceiveSize)
		}
		if size < 0 || int(size) > limit {
			rejectedFramesTotal.Inc()
			c.warnConnError("rejecting frame: size out of range, closing the connection",
				"size", size, "max", limit, "authenticated", c.auth == nil || c.auth.Authenticated())
			for _, r := range frames[:n] {
				s.recycle(r)
			}
			return gnet.Close
		}
		if !c.headAdmitted {
			// Reserve before reading or allocating the body; what does not fit stays
			// in the kernel, whose flow control then stops the client.
			if !s.budget.acquire(c, int64(size)) {
				pause = pauseMemory
				break
			}
			c.headSize, c.headAdmitted = int64(size), true
		}
		complete := buffered-4 >= int(size)
		if !complete && (size < directReadMin || buffered-4 < int(size)/4) {
			break // a truncated frame waits for the rest in gnet's buffer
		}
		_, _ = gc.Discard(4)
		r := &Request{Conn: c, reserved: c.headSize}
		c.headSize, c.headAdmitted = 0, false
		if r.fb = s.pool.get(int(size)); r.fb != nil {
			r.Frame = r.fb.b[:size]
		} else {
			r.Frame = make([]byte, size)
		}
		if !complete {
			c.partialN, _ = gc.Read(r.Frame)
			c.partial = r
			break
		}
		// Read copies straight out of gnet's buffers (Peek would first join a frame that
		// wraps the ring buffer) and advances them, like Peek+copy+Discard.
		if m, _ := gc.Read(r.Frame); m != int(size) {
			s.log.Error("BUG: buffered frame shorter than announced", "conn", c.id,
				"remote", c.remote, "size", size, "read", m)
			for _, fr := range frames[:n] {
				s.recycle(fr)
			}
			s.recycle(r)
			return gnet.Close
		}
		c.readStart.Store(0)
		frames[n] = r
		n++
	}
	if n > 0 {
		requestsTotal.Add(n)
	}

	c.mu.Lock()
	for _, r := range frames[:n] {
		c.mailbox.push(r)
		c.slots.push(r)
	}
	c.inFlight += n
	if n > 0 && !c.running && !c.muteTimer {
		c.running = true
		s.dispatchers.Add(1)
		go c.drain()
	}
	stalled := false
	if pause != pauseOutbound && !c.waitDrain {
		c.stallTicks = 0
	}
	switch pause {
	case pauseInFlight:
		// Responses may have been written since the snapshot; only writes can wake us.
		if c.slots.len() <= s.cfg.resumeInFlight() {
			c.wakeLocked()
		} else if !c.wakeOnSlot {
			c.wakeOnSlot = true
			pausesTotal.Inc()
		}
	case pauseOutbound:
		if !c.wakeOnOut {
			c.wakeOnOut = true
			pausesTotal.Inc()
		}
		stalled = true
	case pauseNone:
		if n == len(frames) && gc.InboundBuffered() >= 4 {
			c.wakeLocked()
		}
	}
	c.mu.Unlock()

	in := gc.InboundBuffered()
	c.lastInbound = in
	if (in > 0 || c.partial != nil) && c.readStart.Load() == 0 {
		c.readStart.Store(now)
	}
	switch {
	case pause != pauseNone && (!c.readOff || arrived):
		// Also when bytes arrived though reading was stopped: gnet registers a
		// connection for reading again when its outbound buffer fills or drains.
		c.setReading(gc, false)
	case c.readOff:
		c.setReading(gc, true)
		if c.readStart.Load() != 0 {
			c.readStart.Store(now) // the time paused does not count
		}
	}
	if pause != pauseNone {
		if in > s.cfg.MaxPausedInboundBytes {
			c.warnConnError("closing paused connection: too many unread bytes",
				"buffered", in, "max", s.cfg.MaxPausedInboundBytes)
			return gnet.Close
		}
	}
	if stalled {
		// gnet does not report when its outbound buffer drains; the ticker re-checks.
		s.addStalled(c)
	}
	return gnet.None
}

// setReading stops or resumes reading the socket (readControl). Called on the event loop.
func (c *Conn) setReading(gc gnet.Conn, on bool) {
	if sc, ok := gc.(*streamConn); ok {
		sc.setReading(on)
		c.readOff = !on
		c.paused.Store(!on)
		return
	}
	if err := c.srv.readCtl.set(gc, on); err != nil {
		readControlErrorsTotal.Inc()
		if c.srv.readErrs.CompareAndSwap(false, true) {
			c.srv.log.Error("cannot stop or resume reading a connection; paused connections are bounded by their unread bytes only",
				"conn", c.id, "remote", c.remote, "err", err)
		}
	}
	c.readOff = !on
	c.paused.Store(!on)
}

// onClose runs on the event loop when the connection is gone. It finishes every response
// gnet will not write, returns its share of the request budget, and lets the dispatcher
// call Handler.ConnClosed after the last Serve.
func (c *Conn) onClose() {
	s := c.srv
	if c.partial != nil {
		s.recycle(c.partial)
		c.partial, c.partialN = nil, 0
	}
	if c.headAdmitted {
		c.headAdmitted = false
		s.budget.release(c.headSize)
	}
	s.budget.forget(c)
	c.mu.Lock()
	c.closed = true
	var finish []*Request
	for _, b := range c.writes {
		// The callback may still run later (with an error) or never (engine shutdown);
		// either way gnet no longer reads b's slices: queued writes check that the
		// connection is open, and gnet copies what it cannot write at once.
		b.finished = true
		for _, r := range b.reqs {
			r.state = stateDone
		}
		finish = append(finish, b.reqs...)
	}
	clear(c.writes)
	c.writes = nil
	dropped := c.dropMailboxLocked()
	for _, r := range c.slots.reset() {
		if r.state == stateReady {
			r.parts = nil
			r.state = stateDone
			finish = append(finish, r)
		}
	}
	c.pendingOut = 0
	c.wakeOnSlot, c.wakeOnOut, c.waitDrain, c.dispatchWait = false, false, false, false
	if !c.running {
		c.running = true
		s.dispatchers.Add(1)
		go c.drain()
	}
	c.mu.Unlock()
	for _, r := range dropped {
		s.recycle(r)
	}
	s.finish(finish)
	s.removeStalled(c)
}

// dropMailboxLocked marks the requests not yet served as dropped and returns them for
// recycling. Conn.mu must be held.
func (c *Conn) dropMailboxLocked() []*Request {
	rs := c.mailbox.reset()
	for _, r := range rs {
		r.state = stateDropped
	}
	return rs
}

// drain is the connection's dispatcher goroutine: it serves the mailbox in order and
// exits when the mailbox is empty. After the connection closed it calls ConnClosed once.
func (c *Conn) drain() {
	s := c.srv
	defer s.dispatchers.Done()
	for {
		c.mu.Lock()
		var dropped []*Request
		if c.closed || c.closeRequested {
			dropped = c.dropMailboxLocked()
		}
		if !c.closed && !c.closeRequested && c.mailbox.front() != nil && c.pendingOut > s.cfg.MaxOutboundBytes {
			// Serving more would only pile up responses the client does not read, each
			// holding on to the partition data it refers to; the write callback that
			// brings pendingOut back under the limit starts a dispatcher again.
			c.dispatchWait = true
			c.running = false
			c.mu.Unlock()
			return
		}
		if !c.closed && !c.closeRequested && c.mailbox.front() != nil {
			if wait := time.Until(c.mutedUntil); wait > 0 {
				// Muted (a quota throttle): the requests wait in the mailbox, and
				// reading stops once MaxInFlight of them are there.
				if !c.muteTimer {
					c.muteTimer = true
					time.AfterFunc(wait, c.unmute)
				}
				c.running = false
				c.mu.Unlock()
				return
			}
		}
		r := c.mailbox.pop()
		if r == nil {
			notify := c.closed && !c.closeNotified
			if notify {
				c.closeNotified = true
			}
			c.running = false
			c.mu.Unlock()
			for _, d := range dropped {
				s.recycle(d)
			}
			if notify {
				c.connClosed()
			}
			return
		}
		c.mu.Unlock()
		c.serve(r)
	}
}

// Mute makes the connection serve no further request for d (Kafka's channel muting for
// a quota throttle, KIP-219): responses already due are still written, and the requests
// that arrive meanwhile wait (reading stops once MaxInFlight are waiting). A longer mute
// already in force is kept. Safe to call from any goroutine.
func (c *Conn) Mute(d time.Duration) {
	until := time.Now().Add(d)
	c.mu.Lock()
	if until.After(c.mutedUntil) {
		c.mutedUntil = until
	}
	c.mu.Unlock()
}

// unmute runs when a mute's timer fires: it starts a dispatcher for the requests that
// waited (drain arms the timer again if the mute was extended meanwhile). After the
// connection closed, onClose already started the last dispatcher.
func (c *Conn) unmute() {
	c.mu.Lock()
	c.muteTimer = false
	start := !c.running && !c.closed && c.mailbox.front() != nil
	if start {
		c.running = true
		c.srv.dispatchers.Add(1)
	}
	c.mu.Unlock()
	if start {
		go c.drain()
	}
}

// serve calls Handler.Serve; a panic closes only this connection.
func (c *Conn) serve(r *Request) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		handlerPanicsTotal.Inc()
		c.srv.log.Error("handler panicked, closing the connection", "conn", c.id,
			"remote", c.remote, "panic", p, "stack", string(debug.Stack()))
		c.mu.Lock()
		answered := r.state != statePending
		if answered && !c.closed {
			c.closeRequested = true
			_ = c.gc.Close()
		}
		c.mu.Unlock()
		if !answered {
			r.Close(fmt.Errorf("handler panic: %v", p))
		}
	}()
	c.srv.h.Serve(r)
}

// connClosed calls Handler.ConnClosed, containing a panic.
func (c *Conn) connClosed() {
	defer func() {
		if p := recover(); p != nil {
			handlerPanicsTotal.Inc()
			c.srv.log.Error("ConnClosed panicked", "conn", c.id, "remote", c.remote,
				"panic", p, "stack", string(debug.Stack()))
		}
	}()
	c.srv.h.ConnClosed(c)
}
