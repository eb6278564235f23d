package sasl

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// memScram is a ScramStore in memory.
type memScram map[string]ScramCredential

func (m memScram) ScramCredential(_ context.Context, mech, user string) (ScramCredential, bool, error) {
	c, ok := m[mech+"/"+user]
	return c, ok, nil
}

func newTestServer(t *testing.T, reauth time.Duration) (*Server, memScram) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("alice:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadPlainUsers(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store := memScram{}
	srv, err := NewServer(Config{Mechanisms: []string{Plain, ScramSHA256, ScramSHA512}, PlainUsers: users, Scram: store, MaxReauth: reauth})
	if err != nil {
		t.Fatal(err)
	}
	return srv, store
}

func addScramUser(t *testing.T, store memScram, mech, user, pass string) {
	t.Helper()
	salt := []byte("0123456789abcdef")
	salted, err := SaltPassword(mech, pass, salt, ScramMinIterations)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewScramCredential(mech, salt, salted, ScramMinIterations)
	if err != nil {
		t.Fatal(err)
	}
	store[mech+"/"+user] = c
}

// TestSessionGatesRequests: before authentication only ApiVersions and SaslHandshake pass,
// during it only SaslAuthenticate (v1 handshake), after it everything until the lifetime
// ends, then only a SaslHandshake (re-authentication); a failed session passes nothing.
func TestSessionGatesRequests(t *testing.T) {
	srv, _ := newTestServer(t, time.Minute)
	now := time.Now()
	s := &Session{}
	allowed := func(key kmsg.Key, at time.Time) bool { return s.Check(int16(key), at) == nil }
	if !allowed(kmsg.ApiVersions, now) || !allowed(kmsg.SASLHandshake, now) || allowed(kmsg.Metadata, now) || allowed(kmsg.SASLAuthenticate, now) {
		t.Fatal("before the handshake: want only ApiVersions and SaslHandshake")
	}
	if err := s.Handshake(srv, Plain, 1); err != nil {
		t.Fatal(err)
	}
	if !allowed(kmsg.SASLAuthenticate, now) || allowed(kmsg.ApiVersions, now) || allowed(kmsg.Produce, now) {
		t.Fatal("after the handshake: want only SaslAuthenticate")
	}
	if _, done, life, err := s.Step(context.Background(), []byte("\x00alice\x00secret"), now); err != nil || !done || life != time.Minute {
		t.Fatalf("step: done %v lifetime %s err %v", done, life, err)
	}
	if s.User() != "alice" || !allowed(kmsg.Produce, now.Add(59*time.Second)) {
		t.Fatal("authenticated: want every request")
	}
	later := now.Add(61 * time.Second)
	if err := s.Check(int16(kmsg.Produce), later); !errors.Is(err, ErrExpired) || !allowed(kmsg.SASLHandshake, later) {
		t.Fatalf("after the lifetime: Produce %v, want ErrExpired and SaslHandshake allowed", err)
	}
	if err := s.Handshake(srv, ScramSHA256, 1); !errors.Is(err, ErrIllegalState) {
		t.Fatalf("re-authentication with another mechanism: %v, want ErrIllegalState", err)
	}
	if allowed(kmsg.ApiVersions, later) {
		t.Fatal("a failed session passes requests")
	}
}

// TestReauthenticationKeepsThePrincipal: a re-authentication as another user fails.
func TestReauthenticationKeepsThePrincipal(t *testing.T) {
	srv, store := newTestServer(t, time.Minute)
	addScramUser(t, store, ScramSHA256, "alice", "a")
	addScramUser(t, store, ScramSHA256, "bob", "b")
	s := &Session{}
	if err := login(s, srv, "alice", "a"); err != nil {
		t.Fatal(err)
	}
	if err := login(s, srv, "alice", "a"); err != nil {
		t.Fatalf("re-authentication as the same user: %v", err)
	}
	var ae *AuthError
	if err := login(s, srv, "bob", "b"); !errors.As(err, &ae) {
		t.Fatalf("re-authentication as another user: %v, want an AuthError", err)
	}
}

// login runs franz-go's SCRAM-SHA-256 client against s.
func login(s *Session, srv *Server, user, pass string) error {
	ctx := context.Background()
	if err := s.Handshake(srv, ScramSHA256, 1); err != nil {
		return err
	}
	sess, token, err := scram.Auth{User: user, Pass: pass}.AsSha256Mechanism().Authenticate(ctx, "broker")
	if err != nil {
		return err
	}
	for {
		reply, done, _, err := s.Step(ctx, token, time.Now())
		if err != nil {
			return err
		}
		clientDone, next, err := sess.Challenge(reply)
		if err != nil {
			return err
		}
		if done != clientDone {
			return errors.New("server and client disagree on the end of the exchange")
		}
		if done {
			return nil
		}
		token = next
	}
}

// TestScramWithFranzGo: franz-go's SCRAM client logs in with the right password (and
// verifies the server's signature), and fails with a wrong one or an unknown user.
func TestScramWithFranzGo(t *testing.T) {
	for _, mech := range []string{ScramSHA256, ScramSHA512} {
		srv, store := newTestServer(t, 0)
		addScramUser(t, store, mech, "u,=x", "pw")
		run := func(user, pass string) error {
			s := &Session{}
			if err := s.Handshake(srv, mech, 1); err != nil {
				return err
			}
			a := scram.Auth{User: user, Pass: pass}
			m := a.AsSha256Mechanism()
			if mech == ScramSHA512 {
				m = a.AsSha512Mechanism()
			}
			sess, token, err := m.Authenticate(context.Background(), "b")
			if err != nil {
				return err
			}
			for {
				reply, done, _, err := s.Step(context.Background(), token, time.Now())
				if err != nil {
					return err
				}
				if _, token, err = sess.Challenge(reply); err != nil || done {
					return err
				}
			}
		}
		if err := run("u,=x", "pw"); err != nil {
			t.Errorf("%s: right password: %v", mech, err)
		}
		var ae *AuthError
		if err := run("u,=x", "bad"); !errors.As(err, &ae) {
			t.Errorf("%s: wrong password: %v", mech, err)
		}
		if err := run("nobody", "pw"); !errors.As(err, &ae) {
			t.Errorf("%s: unknown user: %v", mech, err)
		}
	}
}

// TestPlainUsersFile: plain and hashed passwords; bad lines are refused with their number.
func TestPlainUsersFile(t *testing.T) {
	hash, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("# c\n\nalice:pw:with:colons\nbob:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadPlainUsers(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{{"alice", "pw:with:colons", true}, {"alice", "pw", false}, {"bob", "s3cret", true}, {"bob", hash, false}, {"carol", "", false}} {
		if got := users.check(tc.user, tc.pass); got != tc.ok {
			t.Errorf("check(%q, %q) = %v, want %v", tc.user, tc.pass, got, tc.ok)
		}
	}
	for _, bad := range []string{"nocolon\n", "a:x\na:y\n", "a:$pbkdf2-sha256$x$y$z\n", ":pw\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPlainUsers(path, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("users file %q loaded", bad)
		}
	}
}
