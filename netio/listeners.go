package netio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/kafscale/kafscale/sasl"
	"github.com/kafscale/kafscale/sslprincipal"
)

// Security protocols of a listener, named as in Kafka's listener.security.protocol.map.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// AnonymousPrincipal is the principal of a connection that did not authenticate, as
// Kafka names it.
const AnonymousPrincipal = "User:ANONYMOUS"

// tlsHandshakeTimeout bounds a TLS handshake (or RequestReadTimeout, if shorter): a
// client that connects and sends nothing must not hold a connection slot for longer.
const tlsHandshakeTimeout = 10 * time.Second

// Listener is a further listener of a Server, served by the standard library rather than
// by gnet (gnet has no TLS): each connection gets a reader, a writer and an event-loop
// goroutine (streamconn.go) feeding the same request handling, budget and limits.
type Listener struct {
	// Name is the listener's name (Kafka's listener name, e.g. EXTERNAL).
	Name string
	// Addr is host:port; port 0 picks a free port.
	Addr string
	// TLS, when set, makes it an SSL listener. Its GetConfigForClient or GetCertificate
	// may reload certificates; netio only runs the handshake.
	TLS *tls.Config
	// MapPrincipal, when set, turns a client certificate's subject (RFC 2253) into the
	// principal's name (ssl.principal.mapping.rules); an error refuses the connection, as
	// Kafka refuses a certificate no rule maps. Unset, the subject is the name.
	MapPrincipal func(subject string) (string, error)
	// SASL makes clients authenticate (SASL_PLAINTEXT, or SASL_SSL with TLS): each
	// connection gets a sasl.Session that the handler drives (Conn.SASL).
	SASL bool
}

// Protocol returns the listener's security protocol.
func (l Listener) Protocol() string {
	switch {
	case l.TLS != nil && l.SASL:
		return ProtocolSASLSSL
	case l.SASL:
		return ProtocolSASLPlaintext
	case l.TLS != nil:
		return ProtocolSSL
	}
	return ProtocolPlaintext
}

// streamListener is a bound Listener.
type streamListener struct {
	Listener
	ln net.Listener
}

// listenStreams binds the further listeners.
func (s *Server) listenStreams() error {
	for _, l := range s.cfg.Listeners {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, sl := range s.streamLns {
				_ = sl.ln.Close()
			}
			s.streamLns = nil
			return fmt.Errorf("cannot listen on %s (listener %s): %w", l.Addr, l.Name, err)
		}
		s.streamLns = append(s.streamLns, &streamListener{Listener: l, ln: ln})
	}
	for _, sl := range s.streamLns {
		s.streams.Add(1)
		go func() { defer s.streams.Done(); s.accept(sl) }()
		s.log.Info("listening", "listener", sl.Name, "protocol", sl.Protocol(), "addr", sl.ln.Addr())
	}
	return nil
}

// ListenerAddr returns the bound address of the further listener named name, or nil.
func (s *Server) ListenerAddr(name string) net.Addr {
	for _, sl := range s.streamLns {
		if sl.Name == name {
			return sl.ln.Addr()
		}
	}
	return nil
}

// accept serves one further listener until it is closed.
func (s *Server) accept(sl *streamListener) {
	var delay time.Duration
	for {
		nc, err := sl.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: wait and retry rather than give the listener up.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("cannot accept connection", "listener", sl.Name, "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.streamsDone:
				return
			}
			continue
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			_ = tc.SetKeepAlivePeriod(time.Minute)
		}
		sc := newStreamConn(s, nc)
		c, ok := s.openConn(sc, nc.RemoteAddr(), sl.Name, AnonymousPrincipal)
		if ok && sl.SASL {
			c.auth = &sasl.Session{}
		}
		if !ok {
			_ = nc.Close()
			continue
		}
		select {
		case <-s.streamsDone:
			// Stop took its list of connections before this one was counted in: close it
			// here, and it ends as any closed connection does.
			_ = nc.Close()
		default:
		}
		if sl.TLS == nil {
			sc.start(c)
			continue
		}
		s.streams.Add(1)
		go func() {
			defer s.streams.Done()
			s.handshake(sl, sc, c)
		}()
	}
}

// handshake runs the TLS handshake of a connection counted in as c, then serves it; a
// failed handshake closes it with one (rate-limited) log line.
func (s *Server) handshake(sl *streamListener, sc *streamConn, c *Conn) {
	tc := tls.Server(sc.nc, sl.TLS)
	_ = tc.SetDeadline(time.Now().Add(min(tlsHandshakeTimeout, s.cfg.RequestReadTimeout)))
	if err := tc.Handshake(); err != nil {
		tlsHandshakeFailuresTotal.Inc()
		c.warnConnError("TLS handshake failed, closing the connection", "listener", sl.Name, "err", err)
		_ = tc.Close()
		s.connClosed(c, nil)
		return
	}
	_ = tc.SetDeadline(time.Time{})
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		// The subject as Kafka writes it (X500Principal's RFC 2253), which ACLs and the
		// mapping rules are written against; Go's pkix.Name.String differs.
		name, err := sslprincipal.Subject(certs[0].RawSubject)
		if err == nil && sl.MapPrincipal != nil {
			name, err = sl.MapPrincipal(name)
		}
		if err != nil {
			principalMappingFailuresTotal.Inc()
			c.warnConnError("cannot map the client certificate to a principal, closing the connection", "listener", sl.Name, "err", err)
			_ = tc.Close()
			s.connClosed(c, nil)
			return
		}
		c.principal = "User:" + name
	}
	sc.mu.Lock()
	sc.nc = tc
	sc.mu.Unlock()
	sc.start(c)
}

// stopStreams closes the further listeners and their connections and waits for their
// goroutines. The connections' onClose runs as they end.
func (s *Server) stopStreams() {
	s.streamsOnce.Do(func() { close(s.streamsDone) })
	for _, sl := range s.streamLns {
		_ = sl.ln.Close()
	}
	for _, c := range s.table.snapshot(nil) {
		if sc, ok := c.gc.(*streamConn); ok {
			_ = sc.raw.Close()
		}
	}
	s.streams.Wait()
}
