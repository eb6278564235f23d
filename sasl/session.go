package sasl

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is where a Session stands.
type state uint8

const (
	stateHandshake state = iota // before SaslHandshake: ApiVersions and SaslHandshake only
	stateToken                  // after SaslHandshake: tokens only
	stateDone                   // authenticated
	stateFailed                 // authentication failed or refused: the connection closes
)

// Session is the SASL state of one connection on a SASL listener, as Kafka's
// SaslServerAuthenticator keeps it: before authentication only ApiVersions, SaslHandshake
// and SaslAuthenticate are served (anything else closes the connection); a v0 handshake
// is followed by raw tokens in bare frames, a v1 handshake by SaslAuthenticate requests;
// once authenticated every request is served until the session's lifetime ends (KIP-368),
// after which only a SaslHandshake that starts a re-authentication is.
//
// The broker calls its methods from the connection's dispatcher goroutine, one request at
// a time; Principal may be called from any goroutine. Fields are guarded by mu.
type Session struct {
	mu      sync.Mutex
	srv     *Server
	state   state
	version int16 // of the SaslHandshake that started the exchange
	mech    string
	ex      Exchange
	reauth  bool      // the exchange re-authenticates an authenticated session
	user    string    // the authenticated user; kept while re-authenticating
	expires time.Time // end of the session's lifetime; zero: none
}

// Check reports whether a request with apiKey may be served now. An error means the
// connection must close, as Kafka closes it.
func (s *Session) Check(apiKey int16, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateHandshake:
		if apiKey == int16(kmsg.ApiVersions) || apiKey == int16(kmsg.SASLHandshake) {
			return nil
		}
		return fmt.Errorf("%w: unexpected %s request before SASL authentication", ErrIllegalState, kmsg.NameForKey(apiKey))
	case stateToken:
		if apiKey == int16(kmsg.SASLAuthenticate) && s.version > 0 {
			return nil
		}
		return fmt.Errorf("%w: unexpected %s request during SASL authentication", ErrIllegalState, kmsg.NameForKey(apiKey))
	case stateDone:
		if s.expires.IsZero() || now.Before(s.expires) || apiKey == int16(kmsg.SASLHandshake) {
			return nil
		}
		return fmt.Errorf("%w: %s request %s after the session's end (--connections-max-reauth-ms) without re-authentication",
			ErrExpired, kmsg.NameForKey(apiKey), now.Sub(s.expires).Round(time.Millisecond))
	default:
		return fmt.Errorf("%w: %s request after a failed authentication", ErrIllegalState, kmsg.NameForKey(apiKey))
	}
}

// RawToken reports whether the connection's next frame is a bare SASL token rather than a
// Kafka request (after a v0 SaslHandshake).
func (s *Session) RawToken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateToken && s.version == 0
}

// Handshake starts an exchange with mech (SaslHandshake of the given version). It returns
// ErrUnsupportedMechanism for a mechanism srv does not enable, ErrIllegalState when no
// handshake is expected; either fails the session.
func (s *Session) Handshake(srv *Server, mech string, version int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.state == stateHandshake:
	case s.state == stateDone && version > 0:
		// KIP-368: a SaslHandshake on an authenticated connection re-authenticates it; a
		// v0 client cannot (its tokens are bare frames, indistinguishable from requests).
		s.reauth = true
	default:
		s.state = stateFailed
		return fmt.Errorf("%w: unexpected SaslHandshake v%d", ErrIllegalState, version)
	}
	if s.reauth && mech != s.mech {
		s.state = stateFailed
		return fmt.Errorf("%w: SASL mechanism change from %s to %s is not allowed during re-authentication", ErrIllegalState, s.mech, mech)
	}
	ex, ok := srv.start(mech)
	if !ok {
		s.state = stateFailed
		return fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mech)
	}
	s.srv, s.state, s.version, s.mech, s.ex = srv, stateToken, version, mech, ex
	return nil
}

// Step passes the client's token to the exchange. When the exchange completes, the
// session is authenticated and lifetime is its length (0: unbounded). An error fails the
// session: an *AuthError is bad credentials, ErrIllegalState a token not expected now.
//
// The exchange runs without s.mu held (a SCRAM lookup reads etcd), so Principal and User
// do not wait for it; only the dispatcher calls Step, one at a time.
func (s *Session) Step(ctx context.Context, token []byte, now time.Time) (reply []byte, done bool, lifetime time.Duration, err error) {
	s.mu.Lock()
	ex := s.ex
	if s.state != stateToken {
		s.state = stateFailed
		s.mu.Unlock()
		return nil, false, 0, fmt.Errorf("%w: SASL token without a SaslHandshake", ErrIllegalState)
	}
	s.mu.Unlock()
	reply, done, err = ex.Next(ctx, token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.state = stateFailed
		return nil, false, 0, err
	}
	if !done {
		return reply, false, 0, nil
	}
	user := s.ex.User()
	if s.reauth && user != s.user {
		s.state = stateFailed
		return nil, false, 0, authFailed("Cannot change principals during re-authentication",
			"re-authenticated as %q, authenticated as %q", user, s.user)
	}
	s.user, s.state, s.ex, s.reauth = user, stateDone, nil, false
	lifetime = s.srv.MaxReauth()
	if exp, ok := ex.(interface{ Expires() time.Time }); ok && lifetime > 0 {
		// As Kafka: a session ends no later than the credential it was opened with
		// (an OAUTHBEARER token's exp), when sessions have a lifetime at all.
		lifetime = max(min(lifetime, exp.Expires().Sub(now)), time.Millisecond)
	}
	s.expires = time.Time{}
	if lifetime > 0 {
		s.expires = now.Add(lifetime)
	}
	return reply, true, lifetime, nil
}

// Mechanism returns the mechanism of the last handshake ("" before one).
func (s *Session) Mechanism() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mech
}

// User returns the authenticated user, or "" before authentication. It is safe from any
// goroutine.
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// Authenticating reports whether an exchange is in progress (after a SaslHandshake).
func (s *Session) Authenticating() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateToken
}

// MaxReceiveSize bounds a frame from a connection that has not authenticated (or is
// re-authenticating), as Kafka's sasl.server.max.receive.size (default 512 KiB): a SASL
// token is small, and a client nobody knows yet must not make the broker buffer a frame of
// --max-request-bytes.
const MaxReceiveSize = 512 << 10

// Authenticated reports whether the session is authenticated and not re-authenticating.
// It is safe from any goroutine.
func (s *Session) Authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateDone
}
