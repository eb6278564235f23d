// Package netio is KafScale's transport. gnet v2 event loops split the Kafka size-prefixed
// frames out of each connection, copy each complete frame into a pooled buffer (the only
// copy of a request on its way in), and hand it to the connection's serial dispatcher,
// which calls Handler.Serve off the event loop. Responses go back in request order through
// a per-connection response queue, written with AsyncWritev. A connection with too many
// unanswered requests or too many unwritten response bytes stops being served until it
// catches up.
package netio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/kafscale/kafscale/ratelog"
)

// tickInterval is how often connections paused on outbound bytes are re-checked: gnet does
// not report when a connection's outbound buffer drains.
const tickInterval = 10 * time.Millisecond

// Handler serves requests. Serve is called once per complete frame, in arrival order, one
// at a time per connection, never on a gnet event loop goroutine. The handler must
// eventually call exactly one of req.Respond, req.NoResponse or req.Close, from any
// goroutine.
type Handler interface {
	// Serve handles one request; it may answer it before returning or later.
	Serve(req *Request)
	// ConnClosed is called once per connection after it closed and after the last Serve
	// on it returned, on a dispatcher goroutine (never on an event loop).
	ConnClosed(c *Conn)
}

// HandlerFunc adapts a function to Handler, with nothing to do on ConnClosed.
type HandlerFunc func(req *Request)

// Serve calls f(req).
func (f HandlerFunc) Serve(req *Request) { f(req) }

// ConnClosed does nothing.
func (HandlerFunc) ConnClosed(*Conn) {}

// Server is a Kafka-protocol listener. Start it once, Stop it once.
type Server struct {
	cfg Config
	h   Handler
	log *slog.Logger
	// connErrors bounds the connection error lines (connerr.go); safe from any goroutine.
	connErrors *ratelog.Limiter
	pool       bufPool

	nextID      atomic.Uint64
	started     atomic.Bool
	stopping    atomic.Bool    // Stop was called: gnet.Run returning is expected
	dispatchers sync.WaitGroup // one per running Conn.drain

	// Written on the gnet.Run goroutine before ready (or runDone) is closed.
	eng     gnet.Engine
	addr    net.Addr
	bootErr error
	runErr  error

	ready     chan struct{} // closed by the first OnTick: the event loops are running
	readyOnce sync.Once
	runDone   chan struct{} // closed when gnet.Run returned
	stopOnce  sync.Once

	stalledMu sync.Mutex
	stalled   map[*Conn]struct{} // connections paused on outbound bytes, woken by OnTick
	spare     map[*Conn]struct{} // the other half of a double buffer, used by OnTick only

	budget   *budget      // QueuedMaxRequestBytes
	table    *connTable   // MaxConnections, MaxConnectionsPerIP, and the sweeps' list
	readCtl  *readControl // stops reading paused connections
	clock    clock
	readErrs atomic.Bool // a read-control failure was logged

	// Further listeners (listeners.go): bound by Start, their goroutines counted in
	// streams; streamsDone is closed by Stop.
	streamLns   []*streamListener
	streams     sync.WaitGroup
	streamsDone chan struct{}
	streamsOnce sync.Once

	// Used by OnTick only.
	lastSweep int64
	sweepBuf  []*Conn
}

// New returns a Server for cfg (zero fields take their defaults) that passes requests to h.
func New(cfg Config, h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:         cfg,
		h:           h,
		log:         log.With("component", "netio"),
		ready:       make(chan struct{}),
		runDone:     make(chan struct{}),
		streamsDone: make(chan struct{}),
		stalled:     make(map[*Conn]struct{}),
		spare:       make(map[*Conn]struct{}),
		budget:      newBudget(cfg.QueuedMaxRequestBytes),
		table:       newConnTable(),
		readCtl:     newReadControl(),

		connErrors: ratelog.New("connection_errors", connErrorBurst, connErrorWindow),
	}
	s.clock.set(time.Now())
	s.lastSweep = s.clock.now()
	return s
}

// Start listens and starts the event loops; it returns once connections are accepted.
func (s *Server) Start() error {
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("cannot start netio server: %w", err)
	}
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("cannot start netio server: already started")
	}
	go func() {
		defer close(s.runDone)
		s.runErr = gnet.Run(&events{s: s}, s.cfg.protoAddr(),
			gnet.WithNumEventLoop(s.cfg.EventLoops),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithTCPKeepAlive(time.Minute),
			gnet.WithTicker(true),
			gnet.WithLogger(gnetLogger{s.log}),
		)
		select {
		case <-s.ready:
			if !s.stopping.Load() {
				// gnet ends its engine when accept fails with anything but a transient
				// error (EMFILE among them; hence the open-files check at start): the
				// process lives on without a listener, which must not go unnoticed.
				s.log.Error("gnet engine stopped on its own: no more connections are accepted or served",
					"addr", s.addr, "err", s.runErr)
			}
		default:
		}
	}()
	select {
	case <-s.ready:
		if err := s.listenStreams(); err != nil {
			_ = s.Stop(context.Background())
			return err
		}
		s.log.Info("listening", "listener", s.cfg.ListenerName, "addr", s.addr, "event_loops", s.cfg.EventLoops,
			"queued_max_request_bytes", s.cfg.QueuedMaxRequestBytes,
			"max_connections", s.cfg.MaxConnections, "max_connections_per_ip", s.cfg.MaxConnectionsPerIP,
			"request_read_timeout", s.cfg.RequestReadTimeout, "connections_max_idle", s.cfg.ConnectionsMaxIdle)
		return nil
	case <-s.runDone:
		err := errors.Join(s.bootErr, s.runErr)
		if err == nil {
			err = errors.New("gnet engine exited at start")
		}
		// gnet reports a port in use as "setsockopt: bad file descriptor"; the standard
		// listener names the cause a user can act on.
		if ln, perr := net.Listen("tcp", s.cfg.Listen); perr != nil {
			err = perr
		} else {
			ln.Close()
		}
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Listen, err)
	}
}

// Addr returns the address the server listens on (the real port when Listen had port 0),
// or nil before Start succeeded.
func (s *Server) Addr() net.Addr {
	select {
	case <-s.ready:
		return s.addr
	default:
		return nil
	}
}

// Stop closes the listener and every connection (Handler.ConnClosed runs for each), then
// waits for the dispatcher goroutines, that is for Serve calls in progress, or for ctx.
// Answers given after Stop are harmless: their done funcs still run.
func (s *Server) Stop(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.stopping.Store(true)
	s.stopOnce.Do(func() {
		select {
		case <-s.ready:
		case <-s.runDone:
			return
		}
		// Engine.Stop starts the shutdown, then polls for its end every 500 ms; with a
		// context already cancelled it returns right after starting it, and we wait for
		// gnet.Run to return instead, which happens as soon as the event loops are closed.
		trigger, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.eng.Stop(trigger)
	})
	select {
	case <-s.runDone:
	case <-ctx.Done():
		return fmt.Errorf("cannot stop gnet engine on %s: %w", s.addr, ctx.Err())
	}
	if s.runErr != nil {
		s.log.Warn("gnet engine stopped with an error", "err", s.runErr)
	}
	s.stopStreams()
	// gnet.Run has returned and the further listeners' goroutines are done: nothing starts
	// a dispatcher any more.
	idle := make(chan struct{})
	go func() {
		s.dispatchers.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cannot stop netio dispatchers (a Serve call does not return): %w", ctx.Err())
	}
}

// recycle releases r's share of the request budget and returns its frame buffer to the
// pool unless the handler detached it. It runs once per request, when its frame is no
// longer needed by netio.
func (s *Server) recycle(r *Request) {
	if n := r.reserved; n > 0 {
		r.reserved = 0
		s.budget.release(n)
	}
	if r.detached || r.fb == nil {
		return
	}
	s.pool.put(r.fb)
	r.fb = nil
}

// finish runs the done funcs of requests whose responses were written or discarded, and
// recycles their frames. The caller took rs out of their connection's queues and set their
// state to stateDone under Conn.mu, so nothing else touches their done funcs any more.
// Call it without Conn.mu: a done func may answer another request.
func (s *Server) finish(rs []*Request) {
	for _, r := range rs {
		done := r.done
		r.done = nil
		runDone(r.Conn, done)
		s.recycle(r)
	}
}

// runDone calls a response's done func, containing a panic: it may run on an event loop.
func runDone(c *Conn, done func()) {
	if done == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			c.srv.log.Error("BUG: response done func panicked", "conn", c.id, "remote", c.remote, "panic", p)
		}
	}()
	done()
}

func (s *Server) addStalled(c *Conn) {
	s.stalledMu.Lock()
	s.stalled[c] = struct{}{}
	s.stalledMu.Unlock()
}

func (s *Server) removeStalled(c *Conn) {
	s.stalledMu.Lock()
	delete(s.stalled, c)
	s.stalledMu.Unlock()
}

// wakeStalled wakes every connection paused on outbound bytes or waiting for gnet's
// outbound buffer to empty; onTraffic re-checks and re-registers those still waiting.
func (s *Server) wakeStalled() {
	s.stalledMu.Lock()
	conns := s.stalled
	s.stalled, s.spare = s.spare, conns
	s.stalledMu.Unlock()
	var later []*Conn
	for c := range conns {
		c.mu.Lock()
		if c.wakeOnOut || c.waitDrain {
			// A client that has not read for a while is looked at less often: hundreds
			// of clients that never read would otherwise cost a wake-up each per tick.
			c.stallTicks++
			if stallCheckDue(c.stallTicks) {
				c.wakeOnOut = false
				c.wakeLocked()
			} else {
				later = append(later, c)
			}
		}
		c.mu.Unlock()
	}
	clear(conns)
	if len(later) > 0 {
		s.stalledMu.Lock()
		for _, c := range later {
			s.stalled[c] = struct{}{}
		}
		s.stalledMu.Unlock()
	}
}

// stallCheckDue says whether a connection waiting n ticks for its client to read is
// looked at on this tick: on each of the first 10 (100 ms), then every 50 ms up to a
// second, then every 250 ms. gnet writes what it holds as soon as the client reads; only
// the next write waits for this.
func stallCheckDue(n int) bool {
	switch {
	case n <= 10:
		return true
	case n <= 100:
		return n%5 == 0
	default:
		return n%25 == 0
	}
}

// events implements gnet.EventHandler; it is unexported so Server's API stays small.
type events struct {
	gnet.BuiltinEventEngine
	s *Server
}

// OnBoot runs on the gnet.Run goroutine once the listener is bound, before connections are
// accepted. It records the bound address: the listener's own, so port 0 is resolved.
func (e *events) OnBoot(eng gnet.Engine) gnet.Action {
	s := e.s
	s.eng = eng
	addr, err := listenerAddr(eng)
	if err != nil {
		s.bootErr = err
		return gnet.Shutdown
	}
	s.addr = addr
	return gnet.None
}

// listenerAddr reads the bound address from a duplicate of the listener's descriptor.
func listenerAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, fmt.Errorf("cannot duplicate listener: %w", err)
	}
	f := os.NewFile(uintptr(fd), "netio-listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("cannot read listener address: %w", err)
	}
	defer ln.Close()
	return ln.Addr(), nil
}

// OnOpen allocates the connection's state, or closes it at once over MaxConnections or
// MaxConnectionsPerIP.
func (e *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	if s.cfg.NoGnetListener {
		// No listener is served by gnet: it only runs the ticker.
		return nil, gnet.Close
	}
	c, ok := s.openConn(gc, cloneAddr(gc.RemoteAddr()), s.cfg.ListenerName, AnonymousPrincipal)
	if !ok {
		return nil, gnet.Close
	}
	gc.SetContext(c)
	return nil, gnet.None
}

// openConn counts a new connection in and returns its state, or reports false over
// MaxConnections or MaxConnectionsPerIP. Safe from any goroutine.
func (s *Server) openConn(gc gnet.Conn, remote net.Addr, listener, principal string) (*Conn, bool) {
	c := &Conn{id: s.nextID.Add(1), remote: remote, ip: ipOf(remote), srv: s, gc: gc,
		listener: listener, principal: principal}
	// Set before the table holds c: sweep snapshots the table on the ticker goroutine, and
	// a zero lastActive there reads as idle since 1970 and closes a connection just opened.
	c.lastActive.Store(s.clock.now())
	if reason := s.table.add(c, &s.cfg); reason != "" {
		refusedConnsTotal(reason).Inc()
		if counts, ok := s.table.noteRefusal(reason, time.Now()); ok {
			s.log.Warn("refusing connections over the connection limits", "remote", remote,
				"reason", reason, "refused_max_connections", counts[refuseMaxConnections],
				"refused_max_connections_per_ip", counts[refuseMaxPerIP],
				"max_connections", s.cfg.MaxConnections, "max_connections_per_ip", s.cfg.MaxConnectionsPerIP)
		}
		return nil, false
	}
	connectionsGauge.Inc()
	s.log.Debug("connection opened", "conn", c.id, "remote", c.remote, "listener", listener)
	return c, true
}

// OnClose finishes the connection's pending work and schedules Handler.ConnClosed.
func (e *events) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.None
	}
	e.s.connClosed(c, err)
	return gnet.None
}

// connClosed counts a closed connection out and finishes its work. It runs once per
// connection, on its event loop.
func (s *Server) connClosed(c *Conn, err error) {
	connectionsGauge.Dec()
	if ioError(err) {
		c.logConnError("connection error", "err", err)
	} else {
		s.log.Debug("connection closed", "conn", c.id, "remote", c.remote, "err", err)
	}
	s.table.remove(c)
	c.onClose()
}

// OnTraffic splits frames out of the connection's inbound buffer.
func (e *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		e.s.log.Error("BUG: traffic on a connection without state", "remote", gc.RemoteAddr())
		return gnet.Close
	}
	return c.onTraffic(gc)
}

// OnTick runs on gnet's ticker goroutine: its first call says the event loops run; then it
// advances the coarse clock, wakes connections paused on outbound bytes, and once a
// second closes connections over RequestReadTimeout or ConnectionsMaxIdle.
func (e *events) OnTick() (time.Duration, gnet.Action) {
	s := e.s
	s.readyOnce.Do(func() { close(s.ready) })
	s.clock.set(time.Now())
	s.wakeStalled()
	if now := s.clock.now(); now-s.lastSweep >= sweepInterval.Nanoseconds() {
		s.lastSweep = now
		s.sweep(now)
	}
	return tickInterval, gnet.None
}

// gnetLogger routes gnet's logging to slog. Fatalf is logged as an error: a library does
// not get to exit the process.
type gnetLogger struct{ log *slog.Logger }

func (l gnetLogger) logf(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, "gnet: "+fmt.Sprintf(format, args...))
}

func (l gnetLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l gnetLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l gnetLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }
func (l gnetLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
func (l gnetLogger) Fatalf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
