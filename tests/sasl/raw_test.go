package sasl

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the Kafka protocol frame by frame, to see what the broker answers, and
// when it closes, at each step of an authentication.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// send writes req as one frame.
func (r *rawConn) send(req kmsg.Request) {
	r.t.Helper()
	r.corr++
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, r.corr)
	if _, err := r.c.Write(frame); err != nil {
		r.t.Fatalf("cannot send %s: %v", kmsg.NameForKey(req.Key()), err)
	}
}

// sendRaw writes b as one bare frame (a SASL token after a v0 handshake).
func (r *rawConn) sendRaw(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b)))); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// readFrame returns the next frame's bytes.
func (r *rawConn) readFrame() ([]byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(r.c, b)
	return b, err
}

// do sends req and decodes its response (non-flexible versions only, whose response
// header is the correlation id alone).
func (r *rawConn) do(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.send(req)
	b, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("no answer to %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != r.corr {
		r.t.Fatalf("answer to %s has correlation id %d, want %d", kmsg.NameForKey(req.Key()), got, r.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(b[4:]); err != nil {
		r.t.Fatalf("cannot decode the answer to %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// awaitClose reads until the broker closes the connection and returns what it read.
func (r *rawConn) awaitClose() []byte {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(r.c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("connection still open 10 s later (read % x)", got)
	}
	return got
}

func handshake(mech string, v int16) *kmsg.SASLHandshakeRequest {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = v, mech
	return req
}

func authenticate(token []byte) *kmsg.SASLAuthenticateRequest {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = 1, token
	return req
}

func plainToken(user, pass string) []byte { return []byte("\x00" + user + "\x00" + pass) }

func metadata() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	return req
}

// testFailureAnswer: bad PLAIN credentials get SASL_AUTHENTICATION_FAILED with a message,
// no sooner than --connection-failed-authentication-delay-ms (100 ms), then the broker
// closes the connection.
func testFailureAnswer(t *testing.T, addr string) {
	c := dialRaw(t, addr)
	if resp := c.do(handshake("PLAIN", 1)).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		t.Fatalf("handshake: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	start := time.Now()
	resp := c.do(authenticate(plainToken("alice", "wrong"))).(*kmsg.SASLAuthenticateResponse)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("failure answered after %s, want at least the 100 ms delay", took)
	}
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil || *resp.ErrorMessage != "Authentication failed: Invalid username or password" {
		t.Fatalf("answer %v %v, want SASL_AUTHENTICATION_FAILED with Kafka's message", kerr.ErrorForCode(resp.ErrorCode), resp.ErrorMessage)
	}
	if len(resp.SASLAuthBytes) != 0 {
		t.Fatalf("failure carries %d bytes of data", len(resp.SASLAuthBytes))
	}
	if got := c.awaitClose(); len(got) != 0 {
		t.Fatalf("broker wrote % x after the failure", got)
	}
}

// testRequestBeforeAuth: a request other than ApiVersions and SaslHandshake before
// authentication closes the connection unanswered, as Kafka's SaslServerAuthenticator does.
func testRequestBeforeAuth(t *testing.T, addr string) {
	for _, tc := range []struct {
		name  string
		steps func(c *rawConn)
	}{
		{"Metadata first", func(*rawConn) {}},
		{"Metadata after ApiVersions", func(c *rawConn) {
			v := kmsg.NewPtrApiVersionsRequest()
			v.Version = 2
			if resp := c.do(v).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 || !slices.ContainsFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == 36 }) {
				t.Fatalf("ApiVersions before authentication: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp.ApiKeys)
			}
		}},
		{"Metadata after SaslHandshake", func(c *rawConn) {
			if resp := c.do(handshake("PLAIN", 1)).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
				t.Fatalf("handshake: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			tc.steps(c)
			c.send(metadata())
			if got := c.awaitClose(); len(got) != 0 {
				t.Fatalf("broker answered a Metadata request before authentication: % x", got[:min(len(got), 32)])
			}
		})
	}
}

// testUnsupportedMechanism: a mechanism that is not enabled gets
// UNSUPPORTED_SASL_MECHANISM with the enabled ones, and the connection closes.
func testUnsupportedMechanism(t *testing.T, addr string) {
	c := dialRaw(t, addr)
	resp := c.do(handshake("GSSAPI", 1)).(*kmsg.SASLHandshakeResponse)
	if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code {
		t.Fatalf("GSSAPI handshake: %v, want UNSUPPORTED_SASL_MECHANISM", kerr.ErrorForCode(resp.ErrorCode))
	}
	if want := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}; !slices.Equal(resp.SupportedMechanisms, want) {
		t.Fatalf("enabled mechanisms %v, want %v", resp.SupportedMechanisms, want)
	}
	c.awaitClose()
}

// testHandshakeV0: after a v0 handshake the PLAIN token goes in a bare frame and is
// answered by a bare (empty) frame; then requests are served.
func testHandshakeV0(t *testing.T, addr string) {
	c := dialRaw(t, addr)
	if resp := c.do(handshake("PLAIN", 0)).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		t.Fatalf("v0 handshake: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	c.sendRaw(plainToken("alice", "alice-secret"))
	b, err := c.readFrame()
	if err != nil || len(b) != 0 {
		t.Fatalf("answer to the raw token: % x %v, want an empty frame", b, err)
	}
	resp := c.do(metadata()).(*kmsg.MetadataResponse)
	if len(resp.Brokers) == 0 {
		t.Fatalf("Metadata after a v0 authentication lists no broker")
	}

	// A bad token after a v0 handshake closes the connection without an answer.
	c = dialRaw(t, addr)
	c.do(handshake("PLAIN", 0))
	c.sendRaw(plainToken("alice", "wrong"))
	if got := c.awaitClose(); len(got) != 0 {
		t.Fatalf("broker answered a bad raw token with % x", got)
	}
}

// testHandshakeOnPlaintext: a PLAINTEXT listener answers SaslHandshake with
// ILLEGAL_SASL_STATE and keeps serving, as Kafka does.
func testHandshakeOnPlaintext(t *testing.T, addr string) {
	c := dialRaw(t, addr)
	if resp := c.do(handshake("PLAIN", 1)).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("SaslHandshake on PLAINTEXT: %v, want ILLEGAL_SASL_STATE", kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp := c.do(metadata()).(*kmsg.MetadataResponse); len(resp.Brokers) == 0 {
		t.Fatal("no broker listed")
	}
}

// testGuessersDoNotSlowOthers guards against the failure delay holding anything a good
// client needs: while 100 connections each send a wrong password (answered after the
// delay), a client with the right one logs in and gets its answer well before the
// guessers get theirs.
func testGuessersDoNotSlowOthers(t *testing.T, addr string) {
	var guessers []*rawConn
	for range 100 {
		c := dialRaw(t, addr)
		c.do(handshake("PLAIN", 1))
		guessers = append(guessers, c)
	}
	start := time.Now()
	for _, c := range guessers {
		c.send(authenticate(plainToken("alice", "guess")))
	}
	good := dialRaw(t, addr)
	good.do(handshake("PLAIN", 1))
	if resp := good.do(authenticate(plainToken("alice", "alice-secret"))).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != 0 {
		t.Fatalf("good login among guessers: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	t.Logf("good login answered %s after 100 guesses were sent", time.Since(start))
	for i, c := range guessers {
		b, err := c.readFrame()
		if err != nil {
			t.Fatalf("guesser %d got no answer: %v", i, err)
		}
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.Version = 1
		if err := resp.ReadFrom(b[4:]); err != nil || resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("guesser %d: %v %v", i, err, kerr.ErrorForCode(resp.ErrorCode))
		}
		if i == 0 {
			if took := time.Since(start); took < 100*time.Millisecond {
				t.Fatalf("a guess answered after %s, before the 100 ms delay", took)
			}
		}
	}
}
