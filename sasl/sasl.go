// Package sasl is the server side of Kafka's SASL authentication (KIP-43, KIP-152,
// KIP-368): the mechanisms (PLAIN against a users file, SCRAM-SHA-256 and SCRAM-SHA-512
// against credentials kept in etcd, OAUTHBEARER against a JSON Web Key Set file) and the per-connection state machine (Session) that
// decides which requests a connection may send before, during and after authentication.
// It knows nothing of frames or connections: the broker feeds it tokens and API keys.
package sasl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Mechanism names, as clients send them in SaslHandshake.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// DefaultFailureDelay is Kafka's connection.failed.authentication.delay.ms: how long the
// answer to a failed authentication is held back, to slow down password guessing.
const DefaultFailureDelay = 100 * time.Millisecond

var (
	// ErrUnsupportedMechanism is a handshake naming a mechanism that is not enabled
	// (UNSUPPORTED_SASL_MECHANISM).
	ErrUnsupportedMechanism = errors.New("unsupported SASL mechanism")
	// ErrIllegalState is a SASL request the connection's state does not allow
	// (ILLEGAL_SASL_STATE), or any other request before authentication.
	ErrIllegalState = errors.New("illegal SASL state")
	// ErrExpired is a request after the session's lifetime (KIP-368) that does not start
	// a re-authentication.
	ErrExpired = errors.New("SASL session expired")
)

// AuthError is a failed authentication (SASL_AUTHENTICATION_FAILED). Message is what
// the client is told; Reason is logged and may say more (never the password).
type AuthError struct {
	Message string
	Reason  string
}

func (e *AuthError) Error() string {
	if e.Reason == "" {
		return e.Message
	}
	return e.Message + " (" + e.Reason + ")"
}

func authFailed(msg, reason string, args ...any) error {
	return &AuthError{Message: msg, Reason: fmt.Sprintf(reason, args...)}
}

// Exchange is the server side of one authentication with one mechanism.
type Exchange interface {
	// Next takes the client's next token and returns the reply; done reports that the
	// client is authenticated. An *AuthError means bad credentials; any other error a
	// failure of the broker (etcd unreachable), which also fails the authentication.
	Next(ctx context.Context, token []byte) (reply []byte, done bool, err error)
	// User returns the authenticated user name once Next reported done.
	User() string
}

// Config holds the authentication settings of a broker's SASL listeners.
type Config struct {
	// Mechanisms are the enabled mechanisms (sasl.enabled.mechanisms), in the order the
	// handshake lists them.
	Mechanisms []string
	// PlainUsers checks PLAIN passwords; required when PLAIN is enabled.
	PlainUsers *PlainUsers
	// Scram looks SCRAM credentials up; required when a SCRAM mechanism is enabled.
	Scram ScramStore
	// OAuth validates OAUTHBEARER tokens; required when OAUTHBEARER is enabled.
	OAuth *OAuthConfig
	// MaxReauth is connections.max.reauth.ms (KIP-368): the lifetime of an authenticated
	// session, after which a connection that did not authenticate again is closed on its
	// next request; 0 means sessions do not expire.
	MaxReauth time.Duration
	// FailureDelay holds back the answer to a failed authentication
	// (connection.failed.authentication.delay.ms).
	FailureDelay time.Duration
}

// Server holds the enabled mechanisms. It is safe from any goroutine.
type Server struct {
	cfg Config
}

// NewServer checks cfg and returns its Server.
func NewServer(cfg Config) (*Server, error) {
	if len(cfg.Mechanisms) == 0 {
		return nil, errors.New("--sasl-enabled-mechanisms must name at least one mechanism")
	}
	seen := map[string]bool{}
	for _, m := range cfg.Mechanisms {
		if seen[m] {
			return nil, fmt.Errorf("--sasl-enabled-mechanisms names %s twice", m)
		}
		seen[m] = true
		switch m {
		case Plain:
			if cfg.PlainUsers == nil {
				return nil, errors.New("PLAIN needs --sasl-plain-users-file")
			}
		case ScramSHA256, ScramSHA512:
			if cfg.Scram == nil {
				return nil, fmt.Errorf("BUG: %s enabled without a credential store", m)
			}
		case OAuthBearer:
			if cfg.OAuth == nil || cfg.OAuth.Keys == nil {
				return nil, errors.New("OAUTHBEARER needs --sasl-oauthbearer-jwks-file or --sasl-oauthbearer-jwks-endpoint-url")
			}
			if cfg.OAuth.SubClaim == "" {
				return nil, errors.New("--sasl-oauthbearer-sub-claim-name must not be empty")
			}
		default:
			return nil, fmt.Errorf("--sasl-enabled-mechanisms: unknown mechanism %q (want %s, %s, %s or %s)", m, Plain, ScramSHA256, ScramSHA512, OAuthBearer)
		}
	}
	if cfg.MaxReauth < 0 {
		return nil, fmt.Errorf("--connections-max-reauth-ms must be >=0 (set to %s)", cfg.MaxReauth)
	}
	if cfg.FailureDelay < 0 {
		return nil, fmt.Errorf("--connection-failed-authentication-delay-ms must be >=0 (set to %s)", cfg.FailureDelay)
	}
	return &Server{cfg: cfg}, nil
}

// ParseMechanisms splits a comma-separated mechanism list, upper-casing each name.
func ParseMechanisms(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// Mechanisms returns the enabled mechanisms.
func (s *Server) Mechanisms() []string { return slices.Clone(s.cfg.Mechanisms) }

// FailureDelay returns how long to hold back the answer to a failed authentication.
func (s *Server) FailureDelay() time.Duration { return s.cfg.FailureDelay }

// MaxReauth returns the session lifetime (0: none).
func (s *Server) MaxReauth() time.Duration { return s.cfg.MaxReauth }

// ScramEnabled reports whether a SCRAM mechanism is enabled.
func (s *Server) ScramEnabled() bool {
	return slices.Contains(s.cfg.Mechanisms, ScramSHA256) || slices.Contains(s.cfg.Mechanisms, ScramSHA512)
}

// start returns a new exchange of mech, or false if mech is not enabled.
func (s *Server) start(mech string) (Exchange, bool) {
	if !slices.Contains(s.cfg.Mechanisms, mech) {
		return nil, false
	}
	switch mech {
	case Plain:
		return &plainExchange{users: s.cfg.PlainUsers}, true
	case ScramSHA256, ScramSHA512:
		return newScramExchange(mech, s.cfg.Scram), true
	case OAuthBearer:
		return &oauthExchange{cfg: s.cfg.OAuth, now: time.Now}, true
	}
	return nil, false
}
