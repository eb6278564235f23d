package sasl

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

// testKeys are an RSA and an EC signing key and the JWKS file that publishes them.
type testKeys struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	jwks string
}

func newTestKeys(t *testing.T) *testKeys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	pt, err := ek.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": enc(rk.N.Bytes()), "e": enc(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": enc(pt[1:33]), "y": enc(pt[33:])},
		{"kty": "oct", "kid": "skipped", "k": "c2VjcmV0"},
	}}
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &testKeys{rsa: rk, ec: ek, jwks: path}
}

// sign returns a compact JWS of claims, signed with alg (RS256, ES256) under kid.
func (k *testKeys) sign(t *testing.T, alg, kid string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signed := enc(h) + "." + enc(c)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, sum[:])
	case "ES256":
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k.ec, sum[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	default:
		sig = []byte("x")
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc(sig)
}

// TestOAuthBearerValidatesTokens: franz-go's OAUTHBEARER client against the exchange, one
// token per case.
func TestOAuthBearerValidatesTokens(t *testing.T) {
	k := newTestKeys(t)
	keys, err := LoadJWKS(k.jwks, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if keys.Len() != 2 {
		t.Fatalf("loaded %d keys, want the RSA and the EC one", keys.Len())
	}
	srv, err := NewServer(Config{Mechanisms: []string{OAuthBearer}, MaxReauth: time.Hour,
		OAuth: &OAuthConfig{Keys: keys, Audience: []string{"kafka"}, Issuer: "https://idp", SubClaim: "sub", ClockSkew: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"sub": "svc", "aud": []string{"other", "kafka"}, "iss": "https://idp", "exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix()}
	}
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256", k.sign(t, "RS256", "r1", good()), true},
		{"ES256", k.sign(t, "ES256", "e1", good()), true},
		{"aud as a string", k.sign(t, "RS256", "r1", with("aud", "kafka")), true},
		{"expired", k.sign(t, "RS256", "r1", with("exp", now.Add(-time.Minute).Unix())), false},
		{"expired within the skew", k.sign(t, "RS256", "r1", with("exp", now.Add(-10*time.Second).Unix())), true},
		{"no exp", k.sign(t, "RS256", "r1", with("exp", nil)), false},
		{"not yet valid", k.sign(t, "RS256", "r1", with("nbf", now.Add(time.Minute).Unix())), false},
		{"wrong audience", k.sign(t, "RS256", "r1", with("aud", "web")), false},
		{"no audience", k.sign(t, "RS256", "r1", with("aud", nil)), false},
		{"wrong issuer", k.sign(t, "RS256", "r1", with("iss", "https://evil")), false},
		{"no subject", k.sign(t, "RS256", "r1", with("sub", nil)), false},
		{"unknown kid", k.sign(t, "RS256", "r9", good()), false},
		{"RS256 token under the EC kid", k.sign(t, "RS256", "e1", good()), false},
		{"alg none", k.sign(t, "none", "r1", good()), false},
		{"tampered claims", tamper(k.sign(t, "RS256", "r1", good())), false},
		{"not a JWT", "opaque-token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Session{}
			user, lifetime, err := oauthLogin(s, srv, tc.token)
			if tc.ok {
				if err != nil || user != "svc" {
					t.Fatalf("login: user %q, err %v", user, err)
				}
				// The session ends with the token (10 minutes), before --connections-max-reauth-ms
				// (1 hour); one accepted within the clock skew lasts a moment.
				if tc.name != "expired within the skew" && (lifetime > 10*time.Minute || lifetime < 9*time.Minute) {
					t.Fatalf("session lifetime %s, want the token's remaining 10 minutes", lifetime)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Message != `{"status":"invalid_token"}` {
				t.Fatalf("login with a bad token: %v, want an AuthError", err)
			}
		})
	}
}

// tamper changes the subject of a signed token, keeping its signature.
func tamper(tok string) string {
	p := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(p[1])
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	c["sub"] = "admin"
	b, _ = json.Marshal(c)
	p[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(p, ".")
}

// oauthLogin runs franz-go's OAUTHBEARER client against s, as the broker would.
func oauthLogin(s *Session, srv *Server, token string) (string, time.Duration, error) {
	ctx := context.Background()
	if err := s.Handshake(srv, OAuthBearer, 1); err != nil {
		return "", 0, err
	}
	sess, msg, err := oauth.Auth{Token: token}.AsMechanism().Authenticate(ctx, "b")
	if err != nil {
		return "", 0, err
	}
	for {
		reply, done, lifetime, err := s.Step(ctx, msg, time.Now())
		if err != nil {
			return "", 0, err
		}
		clientDone, next, cerr := sess.Challenge(reply)
		if done {
			return s.User(), lifetime, cerr
		}
		if cerr != nil {
			return "", 0, cerr
		}
		if clientDone {
			return "", 0, errors.New("client done before the server")
		}
		msg = next
	}
}

// TestJWKSFromURL: the key set is fetched at start (a failure refuses it), again when a
// token names a key it does not hold (not more often than jwksMissRefetch), and a failed
// fetch keeps the keys fetched before.
func TestJWKSFromURL(t *testing.T) {
	k1, k2 := newTestKeys(t), newTestKeys(t)
	var mu sync.Mutex
	serve := k1.jwks // the file whose contents the provider publishes
	status := http.StatusOK
	fetches := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		b, _ := os.ReadFile(serve)
		_, _ = w.Write(b)
	}))
	defer ts.Close()
	set := func(file string, code int) { mu.Lock(); serve, status = file, code; mu.Unlock() }

	set(k1.jwks, http.StatusInternalServerError)
	if _, err := FetchJWKS(ts.URL, time.Hour, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a key set that cannot be fetched at start was accepted")
	}
	set(k1.jwks, http.StatusOK)
	keys, err := FetchJWKS(ts.URL, time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	keys.now = func() time.Time { return clock }
	if _, err := keys.key("r1", "RS256"); err != nil {
		t.Fatalf("key of the first set: %v", err)
	}
	// The provider rotates to new keys that reuse the kids: k2's "r1" is unknown by its
	// signature, so look a missing kid up instead.
	rotated := filepath.Join(t.TempDir(), "rotated.json")
	b, _ := os.ReadFile(k2.jwks)
	if err := os.WriteFile(rotated, []byte(strings.ReplaceAll(string(b), `"r1"`, `"r2"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	set(rotated, http.StatusOK)
	if _, err := keys.key("r2", "RS256"); err == nil {
		t.Fatal("an unknown kid was found within jwksMissRefetch of the last fetch")
	}
	clock = clock.Add(jwksMissRefetch)
	if _, err := keys.key("r2", "RS256"); err != nil {
		t.Fatalf("the rotated key after a refetch: %v", err)
	}
	set(rotated, http.StatusServiceUnavailable)
	clock = clock.Add(2 * time.Hour)
	if _, err := keys.key("r2", "RS256"); err != nil {
		t.Fatalf("a failed refresh dropped the keys: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches != 4 {
		t.Fatalf("%d fetches, want 4 (start refused, start, refetch on a miss, refresh)", fetches)
	}
}
