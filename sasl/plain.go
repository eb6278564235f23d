package sasl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// plainExchange is SASL/PLAIN (RFC 4616): one token, authzid NUL user NUL password,
// checked as Kafka's PlainSaslServer checks it.
type plainExchange struct {
	users *PlainUsers
	user  string
}

func (e *plainExchange) Next(_ context.Context, token []byte) ([]byte, bool, error) {
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		return nil, false, authFailed("Invalid SASL/PLAIN response: expected 3 tokens", "got %d", len(parts))
	}
	authzid, user, password := string(parts[0]), string(parts[1]), string(parts[2])
	switch {
	case user == "":
		return nil, false, authFailed("Authentication failed: username not specified", "")
	case password == "":
		return nil, false, authFailed("Authentication failed: password not specified", "user %q", user)
	case authzid != "" && authzid != user:
		return nil, false, authFailed("Authentication failed: Client requested an authorization id that is different from username",
			"user %q, authorization id %q", user, authzid)
	}
	if !e.users.check(user, password) {
		return nil, false, authFailed("Authentication failed: Invalid username or password", "user %q", user)
	}
	e.user = user
	return nil, true, nil
}

func (e *plainExchange) User() string { return e.user }

// plainHashPrefix starts a salted password hash in a users file:
// $pbkdf2-sha256$<iterations>$<salt>$<hash>, salt and hash in unpadded standard base64.
const plainHashPrefix = "$pbkdf2-sha256$"

// plainHashIterations is the PBKDF2 work factor HashPassword uses: a PLAIN login costs one
// derivation, so it is what a password guess costs too.
const plainHashIterations = 100_000

// plainReloadEvery bounds how often the users file's modification time is looked at.
const plainReloadEvery = time.Second

// plainEntry is one user's line: a password, or a salted hash of one.
type plainEntry struct {
	password   string // set for a plain password
	salt, hash []byte // set for a hashed one
	iterations int
}

// PlainUsers are the users PLAIN accepts, read from a file of user:password or
// user:<salted hash> lines and read again when the file changes (at most once a second,
// on a login). Safe from any goroutine.
type PlainUsers struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex // guards the fields below
	users   map[string]plainEntry
	mod     time.Time // of the file loaded
	size    int64
	checked time.Time // when the file was last looked at
	failed  bool      // the last reload failed (logged once until one succeeds)
}

// LoadPlainUsers reads the users file at path.
func LoadPlainUsers(path string, log *slog.Logger) (*PlainUsers, error) {
	p := &PlainUsers{path: path, log: log, now: time.Now}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read --sasl-plain-users-file: %w", err)
	}
	users, err := readPlainUsers(path)
	if err != nil {
		return nil, err
	}
	p.users, p.mod, p.size, p.checked = users, fi.ModTime(), fi.Size(), p.now()
	return p, nil
}

// Len returns the number of users loaded.
func (p *PlainUsers) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.users)
}

// check reports whether password is user's, after reloading a changed file.
func (p *PlainUsers) check(user, password string) bool {
	p.mu.Lock()
	p.reloadLocked()
	e, ok := p.users[user]
	p.mu.Unlock()
	if !ok {
		return false
	}
	if e.hash == nil {
		// Compared as digests, so the time taken does not depend on how much matched.
		a, b := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(e.password))
		return hmac.Equal(a[:], b[:])
	}
	got, err := pbkdf2.Key(sha256.New, password, e.salt, e.iterations, len(e.hash))
	return err == nil && hmac.Equal(got, e.hash)
}

// reloadLocked reads the file again if its modification time or size changed. A file
// that does not parse keeps the users loaded before. p.mu must be held.
func (p *PlainUsers) reloadLocked() {
	now := p.now()
	if now.Sub(p.checked) < plainReloadEvery {
		return
	}
	p.checked = now
	fi, err := os.Stat(p.path)
	if err == nil && fi.ModTime().Equal(p.mod) && fi.Size() == p.size {
		return
	}
	var users map[string]plainEntry
	if err == nil {
		users, err = readPlainUsers(p.path)
	}
	if err != nil {
		if !p.failed {
			p.log.Error("cannot reload the SASL/PLAIN users file, keeping the users loaded before", "file", p.path, "err", err)
		}
		p.failed = true
		return
	}
	p.users, p.mod, p.size, p.failed = users, fi.ModTime(), fi.Size(), false
	p.log.Info("reloaded the SASL/PLAIN users file", "file", p.path, "users", len(users))
}

// readPlainUsers parses a users file: user:password or user:$pbkdf2-sha256$... per
// line; blank lines and lines starting with # are skipped.
func readPlainUsers(path string) (map[string]plainEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read --sasl-plain-users-file: %w", err)
	}
	defer f.Close()
	users := map[string]plainEntry{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		user, secret, ok := strings.Cut(line, ":")
		if !ok || user == "" || secret == "" {
			return nil, fmt.Errorf("cannot parse --sasl-plain-users-file %s line %d: want user:password or user:%s<iterations>$<salt>$<hash>", path, n, plainHashPrefix)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("cannot parse --sasl-plain-users-file %s line %d: user %q listed twice", path, n, user)
		}
		e := plainEntry{password: secret}
		if strings.HasPrefix(secret, plainHashPrefix) {
			if e, err = parsePlainHash(secret); err != nil {
				return nil, fmt.Errorf("cannot parse --sasl-plain-users-file %s line %d (user %q): %w", path, n, user, err)
			}
		}
		users[user] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read --sasl-plain-users-file %s: %w", path, err)
	}
	return users, nil
}

func parsePlainHash(s string) (plainEntry, error) {
	f := strings.Split(strings.TrimPrefix(s, plainHashPrefix), "$")
	if len(f) != 3 {
		return plainEntry{}, fmt.Errorf("a hash must be %s<iterations>$<salt>$<hash>", plainHashPrefix)
	}
	it, err := strconv.Atoi(f[0])
	if err != nil || it < 1 {
		return plainEntry{}, fmt.Errorf("bad iteration count %q", f[0])
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(f[1])
	hash, err2 := base64.RawStdEncoding.DecodeString(f[2])
	if err := errors.Join(err1, err2); err != nil || len(salt) == 0 || len(hash) == 0 {
		return plainEntry{}, fmt.Errorf("bad salt or hash (unpadded base64): %v", err)
	}
	return plainEntry{salt: salt, hash: hash, iterations: it}, nil
}

// HashPassword returns the salted hash of password to write in a users file after
// "user:" ($pbkdf2-sha256$iterations$salt$hash).
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("cannot make a salt: %w", err)
	}
	hash, err := pbkdf2.Key(sha256.New, password, salt, plainHashIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("cannot hash the password: %w", err)
	}
	return fmt.Sprintf("%s%d$%s$%s", plainHashPrefix, plainHashIterations,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(hash)), nil
}
