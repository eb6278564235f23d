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
	"log/slog"
	"math/big"
	"os"
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

// JWKS is a JSON Web Key Set read from a file and read again when the file changes (at
// most once a second, on a login), as the PLAIN users file is. Safe from any goroutine.
type JWKS struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex // guards the fields below
	keys    []verifyKey
	mod     time.Time
	size    int64
	checked time.Time
	failed  bool
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
	j.reloadLocked()
	var found []verifyKey
	for _, k := range j.keys {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			found = append(found, k)
		}
	}
	switch {
	case len(found) == 0:
		return verifyKey{}, fmt.Errorf("no %s key with kid %q in the key set", alg, kid)
	case len(found) > 1:
		return verifyKey{}, fmt.Errorf("the token has no kid and the key set has %d %s keys", len(found), alg)
	}
	return found[0], nil
}

// reloadLocked reads the file again if it changed; a file that does not load keeps the
// keys loaded before. j.mu must be held.
func (j *JWKS) reloadLocked() {
	now := j.now()
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

func readJWKS(path string) ([]verifyKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read --sasl-oauthbearer-jwks-file: %w", err)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("cannot parse --sasl-oauthbearer-jwks-file %s: %w", path, err)
	}
	var keys []verifyKey
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		vk, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("cannot parse key %d (kid %q) of --sasl-oauthbearer-jwks-file %s: %w", i, k.Kid, path, err)
		}
		if vk.alg != "" {
			keys = append(keys, vk)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--sasl-oauthbearer-jwks-file %s has no RS256 or ES256 signing key", path)
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
