package netio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/kafscale/kafscale/sasl"
)

// saslServer starts a server with a SASL_PLAINTEXT listener named SASL.
func saslServer(t *testing.T, h Handler) *Server {
	t.Helper()
	cfg := testConfig()
	cfg.Listeners = []Listener{{Name: "SASL", Addr: "127.0.0.1:0", SASL: true}}
	s, _ := startServer(t, cfg, h)
	return s
}

func dialListener(t *testing.T, s *Server, name string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.ListenerAddr(name).String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn}
}

// TestUnauthenticatedFrameOverSASLMaxReceiveSizeIsRefused guards against a client that
// has not authenticated making the broker buffer a frame of --max-request-bytes: before
// authentication a frame over sasl.MaxReceiveSize closes the connection, unread, as
// Kafka's sasl.server.max.receive.size does.
func TestUnauthenticatedFrameOverSASLMaxReceiveSizeIsRefused(t *testing.T) {
	h := &recorder{serveFn: echo}
	s := saslServer(t, h)
	if s.cfg.MaxRequestBytes <= sasl.MaxReceiveSize {
		t.Fatalf("BUG: test config's MaxRequestBytes %d does not exceed sasl.MaxReceiveSize", s.cfg.MaxRequestBytes)
	}
	c := dialListener(t, s, "SASL")
	c.send("small token")
	c.expect("small token")
	c.write(binary.BigEndian.AppendUint32(nil, sasl.MaxReceiveSize+1))
	c.expectClosed()
	if h.numServed() != 1 {
		t.Fatalf("served %d requests, want only the small one", h.numServed())
	}
}

// TestRespondThenCloseWritesTheResponseThenCloses: the response reaches the client, the
// connection closes after it, and requests sent after it are neither served nor answered
// (a failed SASL authentication).
func TestRespondThenCloseWritesTheResponseThenCloses(t *testing.T) {
	h := &recorder{serveFn: func(r *Request) {
		if bytes.Equal(r.Frame, []byte("fail")) {
			r.RespondThenClose([][]byte{[]byte("denied")}, errors.New("test failure"))
			return
		}
		echo(r)
	}}
	s := saslServer(t, h)
	c := dialListener(t, s, "SASL")
	c.write(append(frame([]byte("fail")), frame([]byte("after"))...))
	c.expect("denied")
	c.expectClosed()
	for i := range h.numServed() {
		if string(h.request(i).Frame) == "after" {
			t.Fatal("a request after RespondThenClose was served")
		}
	}
}

// TestSASLConnectionPrincipal: a connection on a SASL listener has a session, anonymous
// until it authenticates; one on another listener has none.
func TestSASLConnectionPrincipal(t *testing.T) {
	type seen struct {
		principal string
		session   bool
	}
	got := make(chan seen, 2)
	h := &recorder{serveFn: func(r *Request) {
		got <- seen{r.Conn.Principal(), r.Conn.SASL() != nil}
		echo(r)
	}}
	s := saslServer(t, h)
	dialListener(t, s, "SASL").send("a")
	if g := <-got; g.principal != AnonymousPrincipal || !g.session {
		t.Fatalf("SASL listener: %+v", g)
	}
	dial(t, s).send("b")
	if g := <-got; g.principal != AnonymousPrincipal || g.session {
		t.Fatalf("PLAINTEXT listener: %+v", g)
	}
}
