package netio

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Defaults for Config; DefaultConfig and New take their values from here.
const (
	// DefaultListen is where a broker listens for Kafka clients.
	DefaultListen = "127.0.0.1:9092"
	// DefaultMaxRequestBytes matches Kafka's socket.request.max.bytes.
	DefaultMaxRequestBytes = 100 << 20
	// DefaultMaxInFlight is how many requests of one connection may be read and not yet
	// answered on the socket.
	DefaultMaxInFlight = 256
	// DefaultMaxOutboundBytes bounds response bytes queued for one connection before
	// reading pauses; a client that does not read its responses stops being served.
	DefaultMaxOutboundBytes = 32 << 20
	// DefaultQueuedMaxRequestBytes bounds the request bytes held broker-wide (Kafka's
	// queued.max.request.bytes, which Kafka leaves unbounded): room for two maximal
	// requests and many ordinary ones.
	DefaultQueuedMaxRequestBytes = 256 << 20
	// DefaultMaxConnections is max.connections (unbounded in Kafka).
	DefaultMaxConnections = 10000
	// DefaultMaxConnectionsPerIP is max.connections.per.ip (unbounded in Kafka).
	DefaultMaxConnectionsPerIP = 1000
	// DefaultRequestReadTimeout is how long one request's bytes may take to arrive: the
	// 30 s of a client's request.timeout.ms, after which the client has given up anyway.
	DefaultRequestReadTimeout = 30 * time.Second
	// DefaultConnectionsMaxIdle is Kafka's connections.max.idle.ms.
	DefaultConnectionsMaxIdle = 10 * time.Minute
)

// Config holds the transport settings.
type Config struct {
	// Listen is host:port (or a gnet URL such as tcp4://host:port) of the PLAINTEXT listener
	// served by gnet; port 0 picks a free port.
	Listen string
	// ListenerName names the gnet listener (PLAINTEXT by default).
	ListenerName string
	// NoGnetListener says no listener is served by gnet (every listener is in Listeners):
	// gnet then binds Listen only to run its ticker, and closes whatever connects there.
	NoGnetListener bool
	// Listeners are further listeners (TLS, or more plaintext ones), served by the
	// standard library with the same limits and budget (listeners.go).
	Listeners []Listener
	// MaxRequestBytes is socket.request.max.bytes: a larger (or negative) frame size closes
	// the connection before its body is read.
	MaxRequestBytes int
	// MaxInFlight is how many requests per connection may be read and not yet have their
	// response handed to the socket before netio stops reading that connection, as Kafka
	// mutes a channel until its response is sent.
	MaxInFlight int
	// EventLoops is the number of gnet event loops (runtime.NumCPU() by default).
	EventLoops int
	// MaxOutboundBytes: when a connection's responses not yet written to the socket exceed
	// it, netio stops taking frames from that connection until they drain.
	MaxOutboundBytes int
	// MaxPausedInboundBytes: gnet keeps reading a paused connection's socket into its
	// inbound buffer (it cannot stop reading one connection), so a paused connection whose
	// unread bytes exceed this is closed. It must be at least MaxRequestBytes+4, so that one
	// maximal frame sent while paused is never a reason to close. 0 means MaxRequestBytes+4.
	MaxPausedInboundBytes int
	// QueuedMaxRequestBytes (queued.max.request.bytes) bounds, broker-wide, the bytes of
	// requests being received, queued or served: a request's announced size is reserved
	// when its size prefix is read and released once its response is written. A
	// connection whose next request does not fit is not read until enough is released.
	// It must be at least MaxRequestBytes.
	QueuedMaxRequestBytes int64
	// MaxConnections (max.connections): connections accepted beyond it are closed at once.
	MaxConnections int
	// MaxConnectionsPerIP (max.connections.per.ip): the same, per client address.
	MaxConnectionsPerIP int
	// RequestReadTimeout closes a connection whose request has started to arrive but has
	// not arrived whole within it (time spent paused by netio does not count).
	RequestReadTimeout time.Duration
	// ConnectionsMaxIdle (connections.max.idle.ms) closes a connection that has neither
	// sent a byte nor had a response written for this long and awaits no answer.
	ConnectionsMaxIdle time.Duration
}

// DefaultConfig returns the default settings.
func DefaultConfig() Config {
	return Config{
		Listen:                DefaultListen,
		MaxRequestBytes:       DefaultMaxRequestBytes,
		MaxInFlight:           DefaultMaxInFlight,
		EventLoops:            runtime.NumCPU(),
		MaxOutboundBytes:      DefaultMaxOutboundBytes,
		MaxPausedInboundBytes: 0, // MaxRequestBytes+4, whatever MaxRequestBytes is set to
		QueuedMaxRequestBytes: DefaultQueuedMaxRequestBytes,
		MaxConnections:        DefaultMaxConnections,
		MaxConnectionsPerIP:   DefaultMaxConnectionsPerIP,
		RequestReadTimeout:    DefaultRequestReadTimeout,
		ConnectionsMaxIdle:    DefaultConnectionsMaxIdle,
	}
}

// withDefaults replaces zero fields by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.ListenerName == "" {
		c.ListenerName = ProtocolPlaintext
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.EventLoops == 0 {
		c.EventLoops = d.EventLoops
	}
	if c.MaxOutboundBytes == 0 {
		c.MaxOutboundBytes = d.MaxOutboundBytes
	}
	if c.QueuedMaxRequestBytes == 0 {
		c.QueuedMaxRequestBytes = max(d.QueuedMaxRequestBytes, int64(c.MaxRequestBytes))
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = d.MaxConnections
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = d.MaxConnectionsPerIP
	}
	if c.RequestReadTimeout == 0 {
		c.RequestReadTimeout = d.RequestReadTimeout
	}
	if c.ConnectionsMaxIdle == 0 {
		c.ConnectionsMaxIdle = d.ConnectionsMaxIdle
	}
	if c.MaxPausedInboundBytes == 0 && c.MaxRequestBytes > 0 {
		c.MaxPausedInboundBytes = c.MaxRequestBytes + 4
	}
	return c
}

// Validate reports the first bad setting, named as in Config, with its value.
func (c Config) Validate() error {
	switch {
	case c.MaxRequestBytes <= 0 || c.MaxRequestBytes > 1<<31-1:
		return fmt.Errorf("MaxRequestBytes must be in (0, 2^31) (set to %d)", c.MaxRequestBytes)
	case c.MaxInFlight <= 0:
		return fmt.Errorf("MaxInFlight must be > 0 (set to %d)", c.MaxInFlight)
	case c.EventLoops <= 0:
		return fmt.Errorf("EventLoops must be > 0 (set to %d)", c.EventLoops)
	case c.MaxOutboundBytes <= 0:
		return fmt.Errorf("MaxOutboundBytes must be > 0 (set to %d)", c.MaxOutboundBytes)
	case c.MaxPausedInboundBytes != 0 && c.MaxPausedInboundBytes < c.MaxRequestBytes+4:
		return fmt.Errorf("MaxPausedInboundBytes must be >= MaxRequestBytes+4 = %d (set to %d)",
			c.MaxRequestBytes+4, c.MaxPausedInboundBytes)
	case c.QueuedMaxRequestBytes < int64(c.MaxRequestBytes):
		// A request larger than the whole budget could never be read.
		return fmt.Errorf("QueuedMaxRequestBytes must be >= MaxRequestBytes = %d (set to %d)",
			c.MaxRequestBytes, c.QueuedMaxRequestBytes)
	case c.MaxConnections <= 0:
		return fmt.Errorf("MaxConnections must be > 0 (set to %d)", c.MaxConnections)
	case c.MaxConnectionsPerIP <= 0:
		return fmt.Errorf("MaxConnectionsPerIP must be > 0 (set to %d)", c.MaxConnectionsPerIP)
	case c.RequestReadTimeout <= 0:
		return fmt.Errorf("RequestReadTimeout must be > 0 (set to %s)", c.RequestReadTimeout)
	case c.ConnectionsMaxIdle <= 0:
		return fmt.Errorf("ConnectionsMaxIdle must be > 0 (set to %s)", c.ConnectionsMaxIdle)
	}
	return nil
}

// protoAddr turns Listen into the URL gnet.Run expects.
func (c Config) protoAddr() string {
	if strings.Contains(c.Listen, "://") {
		return c.Listen
	}
	return "tcp://" + c.Listen
}

// resumeInFlight is the in-flight count at which a connection paused on MaxInFlight resumes:
// a quarter of the window below the limit, so a pipelining client is resumed in batches
// rather than woken once per response.
func (c Config) resumeInFlight() int {
	return c.MaxInFlight - max(1, c.MaxInFlight/4)
}
