package sasl

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// reauthLifetime is the --connections-max-reauth-ms of TestReauthentication: short, so
// that a test sees several sessions end, and long enough for franz-go, which
// re-authenticates at least a second before the end.
const reauthLifetime = 3 * time.Second

// TestReauthentication (KIP-368): with --connections-max-reauth-ms the SaslAuthenticate
// answer carries the session's lifetime; franz-go re-authenticates on its connections
// before it ends and keeps producing without an error; a connection that does not
// re-authenticate is closed on its first request after the end, unanswered.
func TestReauthentication(t *testing.T) {
	iss := newIssuer(t)
	// The key set comes from a URL here (the file in TestSASLListeners).
	b := startSASLBroker(t, "--connections-max-reauth-ms", "3000", "--sasl-oauthbearer-jwks-endpoint-url", iss.serve(t),
		"--sasl-oauthbearer-expected-audience", "kafka")
	createScramUser(t, b.internal, "bob", "bob-secret", kadm.ScramSha512)
	createTopic(t, b.internal, "reauth")

	t.Run("FranzGoReauthenticates", func(t *testing.T) {
		cl := newClient(t, b.plain, kgo.DefaultProduceTopic("reauth"), kgo.SASL(scramMech("bob", "bob-secret", true)))
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		reauths := func() float64 {
			m, err := b.p.Metrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return kafkatest.MetricValue(m, "kafscale_sasl_reauthentications_total")
		}
		before := reauths()
		tick := time.NewTicker(50 * time.Millisecond) // paces the producer, which keeps a connection busy
		defer tick.Stop()
		start := time.Now()
		for n := 0; reauths() < before+2; n++ {
			if err := cl.ProduceSync(ctx, kgo.StringRecord("r")).FirstErr(); err != nil {
				t.Fatalf("produce %d, %s after the start: %v", n, time.Since(start), err)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.Fatalf("no two re-authentications within %s", timeout)
			}
		}
	})

	t.Run("OAuthBearerReauthenticatesWithFreshTokens", func(t *testing.T) {
		// franz-go asks for a token at each (re-)authentication; each lives 10 minutes,
		// so the 3 s sessions end with --connections-max-reauth-ms, not with the token.
		var tokens atomic.Int32
		mech := oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			tokens.Add(1)
			return oauth.Auth{Token: iss.token(t, "svc", "kafka", 10*time.Minute)}, nil
		})
		cl := newClient(t, b.plain, kgo.DefaultProduceTopic("reauth"), kgo.SASL(mech))
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		first := int32(0)
		for n := 0; first == 0 || tokens.Load() < first+2; n++ {
			if err := cl.ProduceSync(ctx, kgo.StringRecord("o")).FirstErr(); err != nil {
				t.Fatalf("produce %d with OAUTHBEARER: %v", n, err)
			}
			if first == 0 {
				first = tokens.Load() // one per connection the client opened
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.Fatalf("no re-authentication with a fresh token within %s (%d tokens)", timeout, tokens.Load())
			}
		}
	})

	t.Run("ConfluentKafkaReauthenticates", func(t *testing.T) {
		// librdkafka (2.2 and later) re-authenticates too (KIP-368): producing over 2.5
		// session lifetimes, one record at a time, meets no error and re-authenticates.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		reauths := func() float64 {
			m, err := b.p.Metrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return kafkatest.MetricValue(m, "kafscale_sasl_reauthentications_total")
		}
		before := reauths()
		conf := map[string]any{"bootstrap.servers": b.plain, "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "bob", "sasl.password": "bob-secret"}
		var res struct {
			Errors []string `json:"errors"`
			Sent   int      `json:"sent"`
		}
		runConfluent(t, map[string]any{"mode": "paced", "conf": conf, "topic": "reauth", "seconds": 2.5 * reauthLifetime.Seconds()}, &res)
		if len(res.Errors) > 0 || res.Sent == 0 {
			t.Fatalf("confluent-kafka across session ends: %+v", res)
		}
		if after := reauths(); after < before+1 {
			t.Fatalf("confluent-kafka did not re-authenticate (%v re-authentications before, %v after)", before, after)
		}
	})

	t.Run("ConnectionNotReauthenticatedIsClosed", func(t *testing.T) {
		c := dialRaw(t, b.plain)
		c.do(handshake("PLAIN", 1))
		authed := time.Now()
		resp := c.do(authenticate(plainToken("alice", "alice-secret"))).(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != reauthLifetime.Milliseconds() {
			t.Fatalf("authentication: %v, session lifetime %d ms, want %d", kerr.ErrorForCode(resp.ErrorCode), resp.SessionLifetimeMillis, reauthLifetime.Milliseconds())
		}
		// Requests are served until the session ends, then the next one closes the
		// connection.
		deadline := authed.Add(reauthLifetime + 10*time.Second)
		for {
			c.send(metadata())
			_, err := c.readFrame()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatalf("reading a Metadata answer: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection still served %s after its session ended", time.Since(authed)-reauthLifetime)
			}
		}
		if took := time.Since(authed); took < reauthLifetime {
			t.Fatalf("connection closed %s after authentication, before its %s session ended", took, reauthLifetime)
		}
	})

	t.Run("ReauthenticationExtendsTheSession", func(t *testing.T) {
		c := dialRaw(t, b.plain)
		c.do(handshake("PLAIN", 1))
		c.do(authenticate(plainToken("alice", "alice-secret")))
		// Re-authenticate at once, then again after the first session's end would have
		// come: the connection is still served.
		first := time.Now()
		for time.Since(first) < reauthLifetime+time.Second {
			if resp := c.do(handshake("PLAIN", 1)).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
				t.Fatalf("re-authentication handshake: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			if resp := c.do(authenticate(plainToken("alice", "alice-secret"))).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != 0 {
				t.Fatalf("re-authentication: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			c.do(metadata())
		}
		// Re-authenticating as another user fails and closes the connection.
		c.do(handshake("PLAIN", 1))
		resp := c.do(authenticate(plainToken("dave", "x"))).(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("re-authentication as a stranger: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		c.awaitClose()
	})
}
