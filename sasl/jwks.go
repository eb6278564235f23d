package sasl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// jwk is one key of a JSON Web Key Set (RFC 7517), RSA or EC P-256.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// verifyKey is a parsed key of the set.
type verifyKey struct {
	kid string
	alg string // RS256 or ES256
	rsa *rsa.PublicKey
	ec  *ecdsa.PublicKey
}

// JWKS is a JSON Web Key Set, read from a file and read again when the file changes (at
// most once a second, on a login), as the PLAIN users file is; or fetched from a URL and
// fetched again every refresh interval, or at once (at most every jwksMissRefetch) when a
// token names a key it does not hold, which is how an identity provider's new key is seen
// at once. Both happen on a login, not in the background. Safe from any goroutine.
type JWKS struct {
	path    string
	url     string
	client  *http.Client
	refresh time.Duration
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex // guards the fields below; held during a fetch, so logins wait for it
	keys    []verifyKey
	mod     time.Time
	size    int64
	checked time.Time // file: when it was last looked at; URL: when it was last fetched
	failed  bool
}

// jwksMissRefetch bounds the fetches caused by tokens naming unknown keys.
const jwksMissRefetch = 10 * time.Second

// jwksFetchTimeout bounds one fetch of a JWKS URL.
const jwksFetchTimeout = 10 * time.Second

// jwksMaxBytes bounds a fetched key set.
const jwksMaxBytes = 1 << 20

// FetchJWKS fetches the key set at url (http or https) and returns a JWKS that fetches it
// again every refresh; the first fetch must succeed.
func FetchJWKS(url string, refresh time.Duration, log *slog.Logger) (*JWKS, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, fmt.Errorf("--sasl-oauthbearer-jwks-endpoint-url must be an http or https URL (set to %q)", url)
	}
	if refresh <= 0 {
		return nil, fmt.Errorf("--sasl-oauthbearer-jwks-endpoint-refresh-ms must be >0 (set to %s)", refresh)
	}
	j := &JWKS{url: url, refresh: refresh, log: log, now: time.Now, client: &http.Client{Timeout: jwksFetchTimeout}}
	keys, err := j.fetch()
	if err != nil {
		return nil, err
	}
	j.keys, j.checked = keys, j.now()
	return j, nil
}

// fetch GETs the key set at j.url.
func (j *JWKS) fetch() ([]verifyKey, error) {
	resp, err := j.client.Get(j.url)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch --sasl-oauthbearer-jwks-endpoint-url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot fetch --sasl-oauthbearer-jwks-endpoint-url %s: HTTP %s", j.url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot fetch --sasl-oauthbearer-jwks-endpoint-url %s: %w", j.url, err)
	}
	if len(b) > jwksMaxBytes {
		return nil, fmt.Errorf("--sasl-oauthbearer-jwks-endpoint-url %s sent more than %d bytes", j.url, jwksMaxBytes)
	}
	return parseJWKS(b, j.url)
}

// LoadJWKS reads the key set at path; a file without a usable key is an error.
func LoadJWKS(path string, log *slog.Logger) (*JWKS, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read --sasl-oauthbearer-jwks-file: %w", err)
	}
	keys, err := readJWKS(path)
	if err != nil {
		return nil, err
	}
	j := &JWKS{path: path, log: log, now: time.Now}
	j.keys, j.mod, j.size, j.checked = keys, fi.ModTime(), fi.Size(), j.now()
	return j, nil
}

// Len returns the number of keys loaded.
func (j *JWKS) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.keys)
}

// key returns the key a token with kid and alg is to be checked with: the one with that
// kid, or, for a token without a kid, the only key of that algorithm.
func (j *JWKS) key(kid, alg string) (verifyKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.reloadLocked(false)
	found := j.matchLocked(kid, alg)
	if len(found) == 0 && j.url != "" {
		j.reloadLocked(true)
		found = j.matchLocked(kid, alg)
	}
	switch {
	case len(found) == 0:
		return verifyKey{}, fmt.Errorf("no %s key with kid %q in the key set", alg, kid)
	case len(found) > 1:
		return verifyKey{}, fmt.Errorf("the token has no kid and the key set has %d %s keys", len(found), alg)
	}
	return found[0], nil
}

// matchLocked returns the keys a token with kid and alg may be checked with. j.mu must be
// held.
func (j *JWKS) matchLocked(kid, alg string) []verifyKey {
	var found []verifyKey
	for _, k := range j.keys {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			found = append(found, k)
		}
	}
	return found
}

// reloadLocked reads the file again if it changed, or fetches the URL again once its
// refresh interval passed (or, with miss, once jwksMissRefetch passed); a key set that
// does not load keeps the keys loaded before. j.mu must be held.
func (j *JWKS) reloadLocked(miss bool) {
	now := j.now()
	if j.url != "" {
		if every := j.refresh; now.Sub(j.checked) < every && (!miss || now.Sub(j.checked) < jwksMissRefetch) {
			return
		}
		j.checked = now
		keys, err := j.fetch()
		if err != nil {
			if !j.failed {
				j.log.Error("cannot fetch the OAUTHBEARER key set, keeping the keys fetched before", "url", j.url, "err", err)
			}
			j.failed = true
			return
		}
		if j.failed || !sameKeys(keys, j.keys) {
			j.log.Info("fetched the OAUTHBEARER key set", "url", j.url, "keys", len(keys))
		}
		j.keys, j.failed = keys, false
		return
	}
	if now.Sub(j.checked) < plainReloadEvery {
		return
	}
	j.checked = now
	fi, err := os.Stat(j.path)
	if err == nil && fi.ModTime().Equal(j.mod) && fi.Size() == j.size {
		return
	}
	var keys []verifyKey
	if err == nil {
		keys, err = readJWKS(j.path)
	}
	if err != nil {
		if !j.failed {
			j.log.Error("cannot reload the OAUTHBEARER key set, keeping the keys loaded before", "file", j.path, "err", err)
		}
		j.failed = true
		return
	}
	j.keys, j.mod, j.size, j.failed = keys, fi.ModTime(), fi.Size(), false
	j.log.Info("reloaded the OAUTHBEARER key set", "file", j.path, "keys", len(keys))
}

// sameKeys reports whether two key sets hold the same kids (for the log).
func sameKeys(a, b []verifyKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kid != b[i].kid || a[i].alg != b[i].alg {
			return false
		}
	}
	return true
}

func readJWKS(path string) ([]verifyKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read --sasl-oauthbearer-jwks-file: %w", err)
	}
	return parseJWKS(b, path)
}

// parseJWKS parses a key set read from path (a file or a URL, for errors).
func parseJWKS(b []byte, path string) ([]verifyKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("cannot parse the OAUTHBEARER key set %s: %w", path, err)
	}
	var keys []verifyKey
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		vk, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("cannot parse key %d (kid %q) of the OAUTHBEARER key set %s: %w", i, k.Kid, path, err)
		}
		if vk.alg != "" {
			keys = append(keys, vk)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the OAUTHBEARER key set %s has no RS256 or ES256 signing key", path)
	}
	return keys, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// parseJWK returns the key, with alg "" for a kind of key not supported (skipped).
func parseJWK(k jwk) (verifyKey, error) {
	vk := verifyKey{kid: k.Kid}
	switch {
	case k.Kty == "RSA" && (k.Alg == "" || k.Alg == "RS256"):
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err := errors.Join(err1, err2); err != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return vk, fmt.Errorf("bad RSA modulus or exponent: %v", err)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return vk, fmt.Errorf("RSA key of %d bits: at least 2048 are needed", pub.N.BitLen())
		}
		vk.alg, vk.rsa = "RS256", pub
	case k.Kty == "EC" && k.Crv == "P-256" && (k.Alg == "" || k.Alg == "ES256"):
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err := errors.Join(err1, err2); err != nil || len(x) != 32 || len(y) != 32 {
			return vk, fmt.Errorf("bad P-256 point: %v", err)
		}
		// ecdsa.ParseUncompressedPublicKey checks the point is on the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return vk, fmt.Errorf("bad P-256 point: %w", err)
		}
		vk.alg, vk.ec = "ES256", pub
	}
	return vk, nil
}

// verify checks sig over signed with the key.
func (k verifyKey) verify(signed, sig []byte) bool {
	h := sha256.Sum256(signed)
	switch {
	case k.rsa != nil:
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, h[:], sig) == nil
	case k.ec != nil:
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, h[:], r, s)
	}
	return false
}
