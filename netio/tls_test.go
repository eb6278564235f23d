package netio

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/kafscale/kafscale/internal/testcerts"
)

// tlsServer starts a server with its gnet PLAINTEXT listener and an SSL listener named
// EXTERNAL whose settings come from mod.
func tlsServer(t *testing.T, h Handler, mod func(*tls.Config)) (*Server, *logBuffer, *testcerts.CA) {
	t.Helper()
	ca := testcerts.NewCA(t, "test-ca")
	srvCert := ca.Server(t, "broker")
	tcfg := &tls.Config{Certificates: []tls.Certificate{srvCert.TLS}, MinVersion: tls.VersionTLS12}
	if mod != nil {
		mod(tcfg)
	}
	cfg := testConfig()
	cfg.Listeners = []Listener{{Name: "EXTERNAL", Addr: "127.0.0.1:0", TLS: tcfg}}
	s, logs := startServer(t, cfg, h)
	return s, logs, ca
}

func dialTLS(t *testing.T, s *Server, cfg *tls.Config) *client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", s.ListenerAddr("EXTERNAL").String(), cfg)
	if err != nil {
		t.Fatalf("cannot dial TLS listener: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn}
}

func TestTLSListenerEchoesFramesOfAllSizes(t *testing.T) {
	s, _, ca := tlsServer(t, HandlerFunc(echo), nil)
	c := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	for _, n := range []int{0, 1, 100, 70 << 10, 300 << 10, 3 << 20} {
		payload := bytes.Repeat([]byte{'x'}, n)
		c.write(frame(payload))
		if got := c.recv(); !bytes.Equal(got, payload) {
			t.Fatalf("frame of %d bytes: echoed %d bytes", n, len(got))
		}
	}
	// Pipelined: many frames in one write come back in order.
	var all []byte
	for i := range 200 {
		all = append(all, frame([]byte{byte(i)})...)
	}
	c.write(all)
	for i := range 200 {
		if got := c.recv(); len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("pipelined response %d: %v", i, got)
		}
	}
}

func TestTLSConnectionKnowsListenerAndAnonymousPrincipal(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	h := &recorder{serveFn: func(r *Request) {
		mu.Lock()
		got[string(r.Frame)] = r.Conn.Listener() + " " + r.Conn.Principal()
		mu.Unlock()
		echo(r)
	}}
	s, _, ca := tlsServer(t, h, nil)
	dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}).send("a")
	dial(t, s).send("b")
	waitFor(t, "two requests", func() bool { return h.numServed() == 2 })
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{"a": "EXTERNAL User:ANONYMOUS", "b": "PLAINTEXT User:ANONYMOUS"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("request %s: listener and principal %q, want %q", k, got[k], v)
		}
	}
}

func TestMTLSPrincipalIsClientCertificateSubject(t *testing.T) {
	h := &recorder{serveFn: echo}
	s, _, ca := tlsServer(t, h, func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert })
	cl := ca.Client(t, "alice", pkix.Name{CommonName: "alice", Organization: []string{"Acme"}, OrganizationalUnit: []string{"Eng"}})
	c := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cl.TLS}})
	c.send("x")
	c.expect("x")
	if p, want := h.request(0).Conn.Principal(), "User:CN=alice,OU=Eng,O=Acme"; p != want { // Conn outlives the request
		t.Fatalf("principal %q, want %q", p, want)
	}
}

// A client without a certificate on a listener that requires one must be turned away at
// the handshake, before any request is served.
func TestMTLSRequiredRefusesClientWithoutCertificate(t *testing.T) {
	h := &recorder{serveFn: echo}
	s, logs, ca := tlsServer(t, h, func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert })
	conn, err := tls.Dial("tcp", s.ListenerAddr("EXTERNAL").String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err == nil {
		c := &client{t: t, conn: conn}
		t.Cleanup(func() { _ = conn.Close() })
		// TLS 1.3 reports the server's refusal at the first read.
		c.send("x")
		c.expectClosed()
	}
	waitFor(t, "handshake failure logged", func() bool { return strings.Contains(logs.String(), "TLS handshake failed") })
	if h.numServed() != 0 {
		t.Fatalf("served %d requests of a client without certificate", h.numServed())
	}
}

// Guards against a plaintext client on the TLS port crashing or wedging the broker: its
// connection is closed, logged once, and the listener keeps serving.
func TestPlaintextClientOnTLSPortIsClosedAndLoggedOnce(t *testing.T) {
	s, logs, ca := tlsServer(t, HandlerFunc(echo), nil)
	conn, err := net.Dial("tcp", s.ListenerAddr("EXTERNAL").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &client{t: t, conn: conn}
	c.send("ApiVersions")
	c.expectClosed()
	waitFor(t, "handshake failure logged", func() bool { return strings.Contains(logs.String(), "TLS handshake failed") })
	if n := strings.Count(logs.String(), "TLS handshake failed"); n != 1 {
		t.Fatalf("handshake failure logged %d times, want once", n)
	}
	ok := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	ok.send("still")
	ok.expect("still")
}

// Guards against a TLS client on the plaintext port: its ClientHello reads as a frame
// size far over MaxRequestBytes, which closes the connection before any body is read.
func TestTLSClientOnPlaintextPortIsClosed(t *testing.T) {
	s, logs, ca := tlsServer(t, HandlerFunc(echo), nil)
	_, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err == nil {
		t.Fatal("TLS handshake with the plaintext listener succeeded")
	}
	waitFor(t, "rejection logged", func() bool { return strings.Contains(logs.String(), "size out of range") })
	dial(t, s).send("still")
}

func TestTLSClientCloseCallsConnClosed(t *testing.T) {
	h := &recorder{serveFn: echo}
	s, _, ca := tlsServer(t, h, nil)
	c := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	c.send("x")
	c.expect("x")
	c.conn.Close()
	waitFor(t, "ConnClosed", func() bool { return h.numClosed() == 1 })
}

// A TLS client that pipelines past MaxInFlight is paused and resumed as a gnet one is.
func TestTLSMaxInFlightPausesAndResumes(t *testing.T) {
	var mu = make(chan *Request, 1000)
	h := &recorder{serveFn: func(r *Request) { mu <- r }}
	ca := testcerts.NewCA(t, "ca")
	cert := ca.Server(t, "broker")
	cfg := testConfig()
	cfg.MaxInFlight = 4
	cfg.Listeners = []Listener{{Name: "EXTERNAL", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert.TLS}}}}
	s, _ := startServer(t, cfg, h)
	c := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	var all []byte
	for i := range 20 {
		all = append(all, frame([]byte{byte(i)})...)
	}
	c.write(all)
	waitFor(t, "4 requests served", func() bool { return h.numServed() == 4 })
	holds(t, "no more than MaxInFlight served", 100e6, func() bool { return h.numServed() == 4 })
	for i := range 20 {
		r := <-mu
		r.Respond([][]byte{r.Frame}, nil)
		if got := c.recv(); len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("response %d: %v", i, got)
		}
	}
}
