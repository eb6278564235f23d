package netio

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// sweepInterval is how often connections are checked against RequestReadTimeout and
// ConnectionsMaxIdle: both are seconds or more, so a second of lateness is harmless.
const sweepInterval = time.Second

// refusalLogInterval spaces the log lines about refused connections: a flood must not
// become a flood of log lines. Each line counts the refusals it stands for.
const refusalLogInterval = 10 * time.Second

// connTable holds the open connections, counted in total and per client address, for
// MaxConnections, MaxConnectionsPerIP and the sweeps. It is safe for concurrent use.
type connTable struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	perIP map[netip.Addr]int

	refusalMu   sync.Mutex
	refused     map[string]int // refusals per reason since the last log line
	lastRefusal time.Time      // when the last log line was written
}

func newConnTable() *connTable {
	return &connTable{conns: make(map[*Conn]struct{}), perIP: make(map[netip.Addr]int), refused: make(map[string]int)}
}

// Refusal reasons, as in the metric's label and the log.
const (
	refuseMaxConnections = "max_connections"
	refuseMaxPerIP       = "max_connections_per_ip"
)

// add counts c in, or returns why it is refused.
func (t *connTable) add(c *Conn, cfg *Config) (refusal string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case len(t.conns) >= cfg.MaxConnections:
		return refuseMaxConnections
	case t.perIP[c.ip] >= cfg.MaxConnectionsPerIP:
		return refuseMaxPerIP
	}
	t.conns[c] = struct{}{}
	t.perIP[c.ip]++
	return ""
}

// remove counts c out; it must have been added.
func (t *connTable) remove(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if t.perIP[c.ip] <= 1 {
		delete(t.perIP, c.ip)
	} else {
		t.perIP[c.ip]--
	}
}

// snapshot returns the open connections.
func (t *connTable) snapshot(dst []*Conn) []*Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		dst = append(dst, c)
	}
	return dst
}

// noteRefusal counts a refused connection and says whether a log line is due now, with
// the refusals per reason it covers.
func (t *connTable) noteRefusal(reason string, now time.Time) (map[string]int, bool) {
	t.refusalMu.Lock()
	defer t.refusalMu.Unlock()
	t.refused[reason]++
	if now.Sub(t.lastRefusal) < refusalLogInterval {
		return nil, false
	}
	t.lastRefusal = now
	counts := t.refused
	t.refused = make(map[string]int)
	return counts, true
}

// ipOf returns the client address a connection is counted under (IPv4-mapped IPv6
// addresses as IPv4), or the zero Addr for a non-IP address.
func ipOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// clock is a coarse clock advanced by the ticker, so the event loops read the time of
// each read without a system call.
type clock struct{ nanos atomic.Int64 }

func (c *clock) set(t time.Time) { c.nanos.Store(t.UnixNano()) }
func (c *clock) now() int64      { return c.nanos.Load() }

// sweep closes the connections whose request has taken longer than RequestReadTimeout to
// arrive, or which have been idle longer than ConnectionsMaxIdle. Runs on the ticker.
func (s *Server) sweep(now int64) {
	s.sweepBuf = s.table.snapshot(s.sweepBuf[:0])
	readLimit := s.cfg.RequestReadTimeout.Nanoseconds()
	idleLimit := s.cfg.ConnectionsMaxIdle.Nanoseconds()
	for _, c := range s.sweepBuf {
		reason := ""
		if start := c.readStart.Load(); start != 0 && !c.paused.Load() && now-start > readLimit {
			reason = closeReadTimeout
		} else if now-c.lastActive.Load() > idleLimit {
			reason = closeIdle
		}
		if reason == "" {
			continue
		}
		c.mu.Lock()
		if reason == closeIdle && c.inFlight > 0 {
			// Waiting for the broker is not idleness.
			c.mu.Unlock()
			continue
		}
		// A connection that asked to close after responses its client never reads closes
		// here too.
		if !c.closed && (reason == closeIdle || !c.closeRequested && !c.closing) {
			c.closeRequested = true
			_ = c.gc.Close()
			c.mu.Unlock()
			closedByLimitTotal(reason).Inc()
			c.logConnError("closing connection: " + reason)
			continue
		}
		c.mu.Unlock()
	}
	clear(s.sweepBuf)
}

// Reasons for sweep's closes, as in the metric's label and the log.
const (
	closeReadTimeout = "request_read_timeout"
	closeIdle        = "idle"
)
