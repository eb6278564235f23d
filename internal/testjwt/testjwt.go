// Package testjwt signs JSON Web Tokens for OAUTHBEARER tests: an RS256 key published as a
// JSON Web Key Set file (the broker's --sasl-oauthbearer-jwks-file) and tokens signed with it.
package testjwt

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Issuer signs tokens with an RSA key whose public half is in JWKSFile (kid "test").
type Issuer struct {
	key *rsa.PrivateKey
	// JWKSFile is the key set, in a folder of the test's.
	JWKSFile string
	// Name is the tokens' iss claim.
	Name string
}

// New makes an issuer named https://idp.test with a fresh 2048-bit key.
func New(t testing.TB) *Issuer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testjwt: cannot make a key: %v", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	b, err := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "test", "alg": "RS256", "use": "sig", "n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())},
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("testjwt: cannot write %s: %v", path, err)
	}
	return &Issuer{key: k, JWKSFile: path, Name: "https://idp.test"}
}

// Token returns an RS256 JWT for sub with audience aud, issued now and valid for ttl.
func (i *Issuer) Token(t testing.TB, sub, aud string, ttl time.Duration) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "test", "typ": "JWT"})
	now := time.Now()
	c, _ := json.Marshal(map[string]any{"sub": sub, "aud": aud, "iss": i.Name, "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	signed := enc(h) + "." + enc(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, i.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatalf("testjwt: cannot sign: %v", err)
	}
	return signed + "." + enc(sig)
}
