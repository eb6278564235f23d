package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// iovMax is IOV_MAX on Linux and the BSDs: one AsyncWritev carries at most this many
// slices, because writev(2) rejects more and gnet does not split them.
const iovMax = 1024

// Request states, guarded by Conn.mu.
const (
	statePending    uint8 = iota // handed to (or waiting for) the handler, no answer yet
	stateReady                   // Respond called, waiting for its turn in the response queue
	stateNoResponse              // NoResponse called
	stateClose                   // Close called: the connection closes when this slot is reached
	stateDropped                 // never served: the connection closed first
	stateDone                    // answered and finished (written, or discarded)
)

// Request is one Kafka request frame of a connection.
type Request struct {
	// Frame is the request bytes after the 4-byte size prefix. It stays valid until the
	// response is written (at least until Respond, NoResponse or Close returns) unless
	// Detach was called, in which case it belongs to the handler.
	Frame []byte
	// Conn is the connection the request came on.
	Conn *Conn

	fb       *frameBuf // pooled backing of Frame; nil if allocated plainly or detached
	detached bool      // written by the handler before it answers
	reserved int64     // request budget held for this request, released by Server.recycle

	// Guarded by Conn.mu.
	state uint8
	parts [][]byte
	done  func()
	size  int     // response bytes without the prefix
	hdr   [4]byte // the response's size prefix, written out as its own iovec
	wpos  int     // the piece (0: hdr, i: parts[i-1]) the next write starts in
	woff  int     // bytes of that piece already handed to gnet
	// closeAfter closes the connection once this response is written (RespondThenClose).
	closeAfter bool
}

// Detach hands Frame to the handler for good: netio will not recycle its buffer (for
// example because record batches aliasing it are kept until they are flushed). Call it
// before answering the request.
func (r *Request) Detach() {
	r.detached = true
	r.fb = nil
}

// Respond queues the response (parts, without the 4-byte size prefix, which netio adds).
// Responses leave the connection in request order, whatever order Respond is called in.
// It is safe to call from any goroutine. done (may be nil) runs once the parts are no
// longer needed: after they are written, or when the connection dies. done runs on a gnet
// event loop or on the caller's goroutine and must not block.
func (r *Request) Respond(parts [][]byte, done func()) {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	if size > math.MaxInt32 {
		r.Conn.srv.log.Error("BUG: response larger than 2 GiB, closing the connection",
			"conn", r.Conn.id, "remote", r.Conn.remote, "size", size)
		runDone(r.Conn, done)
		r.Close(fmt.Errorf("cannot send response of %d bytes", size))
		return
	}
	r.answer(stateReady, parts, done, size)
}

// RespondThenClose queues the response as Respond does and closes the connection once it
// is written; later requests are neither served nor answered (a failed SASL
// authentication, answered and then closed as Kafka does). reason is logged (rate
// limited). It is safe to call from any goroutine.
func (r *Request) RespondThenClose(parts [][]byte, reason error) {
	c := r.Conn
	c.logConnError("closing connection after the response", "reason", reason)
	c.mu.Lock()
	if r.state == statePending {
		r.closeAfter = true
	}
	c.mu.Unlock()
	r.Respond(parts, nil)
}

// NoResponse frees the request's slot in the response queue without sending anything
// (acks=0 produce). It is safe to call from any goroutine.
func (r *Request) NoResponse() {
	r.answer(stateNoResponse, nil, nil, 0)
}

// Close closes the connection once the responses to earlier requests are written; later
// requests are neither served nor answered. reason is logged (rate limited: connerr.go).
// It is safe to call from any goroutine.
func (r *Request) Close(reason error) {
	c := r.Conn
	c.logConnError("closing connection", "reason", reason)
	r.answer(stateClose, nil, nil, 0)
}

// answer records the request's answer and writes whatever is now at the head of the
// connection's response queue.
func (r *Request) answer(state uint8, parts [][]byte, done func(), size int) {
	c := r.Conn
	c.mu.Lock()
	if r.state != statePending {
		prev := r.state
		c.mu.Unlock()
		c.srv.log.Error("BUG: request answered twice", "conn", c.id, "remote", c.remote,
			"state", prev, "again", state)
		runDone(c, done)
		return
	}
	c.inFlight--
	if c.closed || c.closing {
		// Late answer: the connection is gone (or will close before this slot). Harmless.
		r.state = stateDone
		c.mu.Unlock()
		runDone(c, done)
		c.srv.recycle(r)
		return
	}
	r.state = state
	// A detached frame belongs to the handler now (a produce's batches wait in the
	// flusher, bounded by its own buffer): it stops counting against the request budget
	// when answered rather than when its response is written, so a client that does not
	// read its responses does not keep that memory reserved.
	var release int64
	if r.detached {
		release, r.reserved = r.reserved, 0
	}
	switch state {
	case stateReady:
		r.parts, r.done, r.size = parts, done, size
		binary.BigEndian.PutUint32(r.hdr[:], uint32(size))
		c.pendingOut += size + 4
		if r.closeAfter {
			c.closeRequested = true
		}
	case stateClose:
		c.closeRequested = true
	}
	var discarded []*Request
	if c.slots.front() == r {
		discarded = c.flushLocked()
	}
	c.mu.Unlock()
	c.srv.budget.release(release)
	if state == stateNoResponse || state == stateClose {
		c.srv.recycle(r)
	}
	c.srv.finish(discarded)
}

// writeBatch is one AsyncWritev: the iovecs of consecutive ready responses and the
// requests whose last byte it carries. Batches are pooled; gnet's callback is the last
// user of a batch, so only the callback returns it to the pool.
type writeBatch struct {
	c        *Conn
	iov      [][]byte
	reqs     []*Request
	bytes    int  // response bytes (with prefixes) of reqs
	finished bool // guarded by c.mu: reqs were finished (by the callback or by onClose)
	cb       gnet.AsyncCallback
}

var batchPool sync.Pool // of *writeBatch

func getBatch(c *Conn) *writeBatch {
	b, _ := batchPool.Get().(*writeBatch)
	if b == nil {
		b = &writeBatch{iov: make([][]byte, 0, 16)}
		b.cb = b.written // bound once, so a write does not allocate a closure
	}
	b.c = c
	return b
}

func putBatch(b *writeBatch) {
	clear(b.iov)
	clear(b.reqs)
	b.iov, b.reqs = b.iov[:0], b.reqs[:0]
	b.c, b.bytes, b.finished = nil, 0, false
	batchPool.Put(b)
}

// writeChunk bounds the response bytes handed to gnet at a time. gnet copies what the
// socket does not take at once into a buffer of its own; handing it more only once that
// buffer is empty keeps a client that does not read from costing the broker more than
// this (plus the kernel's socket buffer), while the responses themselves, mostly slices
// of partition data shared with other readers, stay where they are.
const writeChunk = 512 << 10

// flushLocked writes the answered requests at the head of the response queue, in one
// AsyncWritev of up to writeChunk bytes and IOV_MAX slices, a response possibly split
// over several. It returns requests discarded because a Close slot was reached, for the
// caller to finish outside the lock.
//
// While an earlier write is still queued in gnet, or gnet still holds bytes of one
// (waitDrain), it does nothing: the write's callback, or the ticker once gnet's buffer is
// empty, flushes again. So a connection has one write outstanding at a time, and the
// responses answered meanwhile leave together in the next writev, which is what makes
// pipelined small responses cheap.
// Conn.mu must be held; the connection must not be closed or closing.
func (c *Conn) flushLocked() (discarded []*Request) {
	if len(c.writes) > 0 || c.waitDrain {
		return nil
	}
	var b *writeBatch
	room := writeChunk
	// add queues p (or the part of it that fits) and reports whether all of it did.
	add := func(p []byte) (int, bool) {
		if len(p) == 0 {
			return 0, true
		}
		if b == nil {
			b = getBatch(c)
		}
		if len(b.iov) == iovMax || room == 0 {
			return 0, false
		}
		n := min(len(p), room)
		b.iov = append(b.iov, p[:n])
		b.bytes += n
		room -= n
		return n, n == len(p)
	}
loop:
	for {
		r := c.slots.front()
		if r == nil || r.state == statePending {
			break
		}
		switch r.state {
		case stateReady:
			// r.wpos indexes the response's pieces, the size prefix first, and r.woff is
			// how much of that piece earlier writes took.
			for r.wpos <= len(r.parts) {
				piece := r.hdr[:]
				if r.wpos > 0 {
					piece = r.parts[r.wpos-1]
				}
				n, whole := add(piece[r.woff:])
				if !whole {
					r.woff += n
					break loop
				}
				r.wpos, r.woff = r.wpos+1, 0
			}
			c.slots.pop()
			r.parts = nil
			b.reqs = append(b.reqs, r)
			if r.closeAfter {
				return c.closeLocked(b)
			}
		case stateClose:
			c.slots.pop()
			return c.closeLocked(b)
		default:
			// stateNoResponse and stateDropped: nothing to write.
			c.slots.pop()
		}
	}
	if b != nil && len(b.iov) > 0 {
		c.sendLocked(b)
	} else if b != nil {
		putBatch(b)
	}
	if c.wakeOnSlot && c.slots.len() <= c.srv.cfg.resumeInFlight() {
		// Written responses freed slots: read again (MaxInFlight).
		c.wakeOnSlot = false
		c.wakeLocked()
	}
	return nil
}

// closeLocked closes the connection after writing b (may be nil): the responses queued
// after the close are discarded and returned for the caller to finish outside the lock.
// Conn.mu must be held.
func (c *Conn) closeLocked(b *writeBatch) (discarded []*Request) {
	c.closing = true
	for _, later := range c.slots.reset() {
		if later.state == stateReady {
			c.pendingOut -= later.size + 4
			later.parts = nil
			later.state = stateDone
			discarded = append(discarded, later)
		}
	}
	if b != nil && len(b.iov) > 0 {
		c.sendLocked(b)
	} else if b != nil {
		putBatch(b)
	}
	// gnet runs a connection's tasks in order, so the writes queued above go out before
	// the close; gnet's close also flushes what it still buffers.
	_ = c.gc.Close()
	return discarded
}

// sendLocked hands b to gnet. Conn.mu must be held, which keeps AsyncWritev calls in
// response order.
func (c *Conn) sendLocked(b *writeBatch) {
	c.writes = append(c.writes, b)
	if err := c.gc.AsyncWritev(b.iov, b.cb); err != nil {
		// The task is queued even so; its callback (or onClose) finishes b.
		c.srv.log.Warn("cannot queue response write, closing the connection",
			"conn", c.id, "remote", c.remote, "err", err)
		_ = c.gc.Close()
	}
}

// written is the AsyncWritev callback. It runs on the event loop and never blocks.
func (b *writeBatch) written(gc gnet.Conn, err error) error {
	c := b.c
	c.lastActive.Store(c.srv.clock.now())
	c.mu.Lock()
	var reqs, discarded []*Request
	stall := false
	if !b.finished {
		b.finished = true
		reqs = b.reqs
		for _, r := range reqs {
			r.state = stateDone
		}
		c.removeWriteLocked(b)
		c.pendingOut -= b.bytes
		if !c.closed && !c.closing {
			if gc.OutboundBuffered() == 0 {
				discarded = c.flushLocked()
			} else {
				// The client reads slower than we write: wait for gnet's buffer to
				// empty before handing it more (writeChunk); the ticker checks.
				c.waitDrain = true
				stall = true
			}
		}
		if c.dispatchWait && !c.closed && c.pendingOut <= c.srv.cfg.MaxOutboundBytes {
			c.dispatchWait = false
			c.running = true
			c.srv.dispatchers.Add(1)
			go c.drain()
		}
		if c.wakeOnOut && !c.closed && c.pendingOut+gc.OutboundBuffered() <= c.srv.cfg.MaxOutboundBytes {
			c.wakeOnOut = false
			c.wakeLocked()
		}
	}
	c.mu.Unlock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.srv.log.Debug("cannot write response", "conn", c.id, "remote", c.remote, "err", err)
	}
	c.srv.finish(reqs)
	c.srv.finish(discarded)
	putBatch(b)
	if stall {
		c.srv.addStalled(c)
	}
	return nil
}

// removeWriteLocked drops b from the in-flight writes (normally the oldest). Conn.mu must
// be held.
func (c *Conn) removeWriteLocked(b *writeBatch) {
	for i, w := range c.writes {
		if w == b {
			copy(c.writes[i:], c.writes[i+1:])
			c.writes[len(c.writes)-1] = nil
			c.writes = c.writes[:len(c.writes)-1]
			return
		}
	}
}
