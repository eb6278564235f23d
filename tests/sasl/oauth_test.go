package sasl

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testjwt"
)

// issuer signs test JWTs with an RSA key published in a JWKS file (internal/testjwt).
type issuer struct{ *testjwt.Issuer }

func newIssuer(t *testing.T) *issuer { return &issuer{testjwt.New(t)} }

// token returns an RS256 JWT for sub with audience aud, valid for ttl.
func (i *issuer) token(t *testing.T, sub, aud string, ttl time.Duration) string {
	t.Helper()
	return i.Token(t, sub, aud, ttl)
}

// serve publishes the key set over HTTP (an identity provider's jwks_uri) and returns its
// URL.
func (i *issuer) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.ServeFile(w, &http.Request{Method: http.MethodGet, URL: &url.URL{}}, i.JWKSFile)
	}), ReadHeaderTimeout: timeout}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/jwks.json"
}

// oauthArgs enable OAUTHBEARER with the issuer's keys, audience kafka.
func (i *issuer) oauthArgs() []string {
	return []string{"--sasl-oauthbearer-jwks-file", i.JWKSFile, "--sasl-oauthbearer-expected-audience", "kafka",
		"--sasl-oauthbearer-expected-issuer", i.Name}
}

// testOAuthBearer: franz-go and confluent-kafka authenticate with a signed JWT over
// SASL_SSL; a token for another audience, or expired, is refused with
// SASL_AUTHENTICATION_FAILED.
func testOAuthBearer(t *testing.T, b *saslBroker, iss *issuer) {
	topic := "oauth"
	createTopic(t, b.internal, topic)
	tok := iss.token(t, "svc-orders", "kafka", 10*time.Minute)
	produceConsume(t, b.secure, topic, 10, kgo.DialTLSConfig(b.tlsConfig()), kgo.SASL(oauth.Auth{Token: tok}.AsMechanism()))
	for name, bad := range map[string]string{
		"another audience": iss.token(t, "svc-orders", "web", 10*time.Minute),
		"expired":          iss.token(t, "svc-orders", "kafka", -time.Hour),
	} {
		if err := authError(t, b.plain, kgo.SASL(oauth.Auth{Token: bad}.AsMechanism())); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("token of %s: %v, want SASL_AUTHENTICATION_FAILED", name, err)
		}
	}
	kafkatestWaitLog(t, b, "is not one of [kafka]")

	conf := map[string]any{"bootstrap.servers": b.secure, "security.protocol": "SASL_SSL", "ssl.ca.location": b.ca.CertFile,
		"sasl.mechanisms": "OAUTHBEARER"}
	var res struct {
		Errors    []string `json:"errors"`
		Unflushed int      `json:"unflushed"`
		Values    []string `json:"values"`
	}
	runConfluent(t, map[string]any{"mode": "roundtrip", "conf": conf, "oauth_token": tok, "oauth_expiry": time.Now().Add(10 * time.Minute).Unix(),
		"topic": topic, "n": 10, "group": "confluent-oauth"}, &res)
	if len(res.Errors) > 0 || res.Unflushed != 0 || len(res.Values) != 10 {
		t.Fatalf("confluent-kafka with OAUTHBEARER: %+v", res)
	}
}

func kafkatestWaitLog(t *testing.T, b *saslBroker, s string) {
	t.Helper()
	kafkatest.WaitFor(t, timeout, "the broker to log "+s, func() bool { return strings.Contains(b.p.LogTail(1<<20), s) })
}
