package netio

import (
	"slices"
	"sync"
)

// budget is the broker-wide bound on request bytes held (Config.QueuedMaxRequestBytes,
// Kafka's queued.max.request.bytes). A connection reserves a request's announced size
// when it reads the size prefix, before it reads or allocates the body; a connection whose
// request does not fit waits in line, not read, and is handed its reservation and woken
// when enough is released. A request that fits goes ahead of waiting larger ones, as with
// Kafka's memory pool: a client stuck behind a 100 MiB request must not stall the small
// requests of every other client.
//
// It is safe for concurrent use. Lock order: budget.mu is never held with Conn.mu.
type budget struct {
	mu      sync.Mutex
	free    int64
	waiters []*Conn // waiting connections in arrival order; fields below are theirs
	// minNeed is at most the smallest need in waiters: a release leaving less free than
	// it skips the scan. It may be stale low (a scan refreshes it), never stale high.
	minNeed int64
}

func newBudget(limit int64) *budget { return &budget{free: limit} }

// acquire reserves n bytes for c's next request. It reports false, and puts c in line
// for n bytes, when they are not free; c is then woken (Conn.wakeLocked) once its
// reservation is made. A reservation handed to c while it waited is used first.
// Called on c's event loop only.
func (b *budget) acquire(c *Conn, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g := c.grant; g > 0 {
		// The grant was made for this same request (its size prefix is still unread),
		// so g == n; the difference, if any, goes back.
		c.grant = 0
		b.free += g
		requestBytesHeld.Add(-float64(g))
	}
	if b.free >= n {
		b.free -= n
		requestBytesHeld.Add(float64(n))
		return true
	}
	if !c.waiting {
		c.waiting, c.need = true, n
		b.waiters = append(b.waiters, c)
		if len(b.waiters) == 1 || n < b.minNeed {
			b.minNeed = n
		}
		waitingConnsGauge.Inc()
		memoryPausesTotal.Inc()
	}
	return false
}

// release returns n bytes and wakes the waiters it lets in. Call it without Conn.mu.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	requestBytesHeld.Add(-float64(n))
	b.mu.Lock()
	b.free += n
	woken := b.grantLocked()
	b.mu.Unlock()
	wakeAll(woken)
}

// forget takes a closed connection out of line and returns a reservation it was handed
// but never used. Call it without Conn.mu.
func (b *budget) forget(c *Conn) {
	b.mu.Lock()
	if c.waiting {
		if i := slices.Index(b.waiters, c); i >= 0 {
			b.waiters = slices.Delete(b.waiters, i, i+1)
		}
		c.waiting = false
		waitingConnsGauge.Dec()
	}
	g := c.grant
	c.grant = 0
	b.free += g
	woken := b.grantLocked()
	b.mu.Unlock()
	if g > 0 {
		requestBytesHeld.Add(-float64(g))
	}
	wakeAll(woken)
}

// grantLocked hands reservations to the waiters that now fit, oldest first, and returns
// them to be woken. budget.mu must be held.
func (b *budget) grantLocked() []*Conn {
	if len(b.waiters) == 0 || b.free < b.minNeed {
		return nil
	}
	var woken []*Conn
	kept := b.waiters[:0]
	minNeed := int64(-1)
	for _, w := range b.waiters {
		if w.need <= b.free {
			b.free -= w.need
			w.grant, w.need, w.waiting = w.need, 0, false
			requestBytesHeld.Add(float64(w.grant))
			waitingConnsGauge.Dec()
			woken = append(woken, w)
			continue
		}
		if minNeed < 0 || w.need < minNeed {
			minNeed = w.need
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
	b.minNeed = max(minNeed, 0)
	return woken
}

// wakeAll asks gnet to run onTraffic for each connection.
func wakeAll(cs []*Conn) {
	for _, c := range cs {
		c.mu.Lock()
		c.wakeLocked()
		c.mu.Unlock()
	}
}
