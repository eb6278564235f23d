package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/sasl"
)

// saslConfig holds the settings of the SASL listeners (docs/security.md, "SASL").
type saslConfig struct {
	// Mechanisms is sasl.enabled.mechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
	Mechanisms string
	// PlainUsersFile lists the users PLAIN accepts (user:password or user:<salted hash>).
	PlainUsersFile string
	// MaxReauthMs is connections.max.reauth.ms (KIP-368); 0: sessions do not expire.
	MaxReauthMs int64
	// FailureDelayMs is connection.failed.authentication.delay.ms.
	FailureDelayMs int64
	// OAUTHBEARER's JWT validation (Kafka's sasl.oauthbearer.*).
	JWKSFile         string
	JWKSURL          string
	JWKSRefreshMs    int64
	ExpectedAudience string
	ExpectedIssuer   string
	SubClaimName     string
	ClockSkewSeconds int64
}

func defaultSASLConfig() saslConfig {
	return saslConfig{FailureDelayMs: sasl.DefaultFailureDelay.Milliseconds(), SubClaimName: "sub", ClockSkewSeconds: 30,
		JWKSRefreshMs: time.Hour.Milliseconds()}
}

func saslFlags(fs *flag.FlagSet, c *saslConfig) {
	fs.StringVar(&c.Mechanisms, "sasl-enabled-mechanisms", c.Mechanisms, "SASL mechanisms of the SASL_PLAINTEXT and SASL_SSL listeners, comma-separated: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (sasl.enabled.mechanisms; required with a SASL listener)")
	fs.StringVar(&c.PlainUsersFile, "sasl-plain-users-file", c.PlainUsersFile, "file of the users SASL/PLAIN accepts, one user:password or user:$pbkdf2-sha256$... (kafscale users hash-password) per line, reloaded when it changes")
	fs.Int64Var(&c.MaxReauthMs, "connections-max-reauth-ms", c.MaxReauthMs, "lifetime of a SASL session in milliseconds: a connection that has not re-authenticated by then is closed on its next request (connections.max.reauth.ms, KIP-368; 0: no limit)")
	fs.Int64Var(&c.FailureDelayMs, "connection-failed-authentication-delay-ms", c.FailureDelayMs, "milliseconds a failed SASL authentication waits for its answer, to slow down password guessing (connection.failed.authentication.delay.ms)")
	fs.StringVar(&c.JWKSFile, "sasl-oauthbearer-jwks-file", c.JWKSFile, "JSON Web Key Set file whose RS256 and ES256 keys verify OAUTHBEARER tokens, reloaded when it changes (sasl.oauthbearer.jwks.endpoint.url with a file)")
	fs.StringVar(&c.JWKSURL, "sasl-oauthbearer-jwks-endpoint-url", c.JWKSURL, "http(s) URL of the identity provider's JSON Web Key Set (its jwks_uri), fetched at start and again every --sasl-oauthbearer-jwks-endpoint-refresh-ms or when a token names an unknown key (sasl.oauthbearer.jwks.endpoint.url)")
	fs.Int64Var(&c.JWKSRefreshMs, "sasl-oauthbearer-jwks-endpoint-refresh-ms", c.JWKSRefreshMs, "milliseconds between fetches of --sasl-oauthbearer-jwks-endpoint-url (sasl.oauthbearer.jwks.endpoint.refresh.ms)")
	fs.StringVar(&c.ExpectedAudience, "sasl-oauthbearer-expected-audience", c.ExpectedAudience, "comma-separated audiences, one of which an OAUTHBEARER token's aud must hold (sasl.oauthbearer.expected.audience; default: aud not checked)")
	fs.StringVar(&c.ExpectedIssuer, "sasl-oauthbearer-expected-issuer", c.ExpectedIssuer, "the iss an OAUTHBEARER token must have (sasl.oauthbearer.expected.issuer; default: iss not checked)")
	fs.StringVar(&c.SubClaimName, "sasl-oauthbearer-sub-claim-name", c.SubClaimName, "the claim of an OAUTHBEARER token that names the user (sasl.oauthbearer.sub.claim.name)")
	fs.Int64Var(&c.ClockSkewSeconds, "sasl-oauthbearer-clock-skew-seconds", c.ClockSkewSeconds, "seconds of clock difference allowed on a token's exp, nbf and iat (sasl.oauthbearer.clock.skew.seconds)")
}

// validate checks the SASL flags against whether a SASL listener is configured: a SASL
// setting without a SASL listener would have no effect, so it is refused.
func (c saslConfig) validate(saslListener bool) error {
	switch {
	case c.MaxReauthMs < 0:
		return fmt.Errorf("--connections-max-reauth-ms must be >=0 (set to %d)", c.MaxReauthMs)
	case c.FailureDelayMs < 0:
		return fmt.Errorf("--connection-failed-authentication-delay-ms must be >=0 (set to %d)", c.FailureDelayMs)
	case !saslListener && c.Mechanisms != "":
		return fmt.Errorf("--sasl-enabled-mechanisms needs a SASL_PLAINTEXT or SASL_SSL listener (--listeners, --listener-security-protocol-map)")
	case !saslListener && c.PlainUsersFile != "":
		return fmt.Errorf("--sasl-plain-users-file needs a SASL_PLAINTEXT or SASL_SSL listener (--listeners, --listener-security-protocol-map)")
	case !saslListener && (c.JWKSFile != "" || c.JWKSURL != ""):
		return fmt.Errorf("--sasl-oauthbearer-jwks-file and --sasl-oauthbearer-jwks-endpoint-url need a SASL_PLAINTEXT or SASL_SSL listener (--listeners, --listener-security-protocol-map)")
	case c.JWKSFile != "" && c.JWKSURL != "":
		return fmt.Errorf("give --sasl-oauthbearer-jwks-file or --sasl-oauthbearer-jwks-endpoint-url, not both")
	case c.JWKSRefreshMs <= 0:
		return fmt.Errorf("--sasl-oauthbearer-jwks-endpoint-refresh-ms must be >0 (set to %d)", c.JWKSRefreshMs)
	case c.ClockSkewSeconds < 0:
		return fmt.Errorf("--sasl-oauthbearer-clock-skew-seconds must be >=0 (set to %d)", c.ClockSkewSeconds)
	case c.SubClaimName == "":
		return fmt.Errorf("--sasl-oauthbearer-sub-claim-name must not be empty")
	case !saslListener && c.MaxReauthMs != 0:
		return fmt.Errorf("--connections-max-reauth-ms needs a SASL_PLAINTEXT or SASL_SSL listener (--listeners, --listener-security-protocol-map)")
	case !saslListener:
		return nil
	case c.Mechanisms == "":
		return fmt.Errorf("a SASL listener needs --sasl-enabled-mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)")
	}
	plain, oauth := false, false
	for _, m := range sasl.ParseMechanisms(c.Mechanisms) {
		switch {
		case m == sasl.Plain:
			plain = true
		case m == sasl.OAuthBearer:
			oauth = true
		case sasl.IsScram(m):
		default:
			return fmt.Errorf("--sasl-enabled-mechanisms: unknown mechanism %q (want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)", m)
		}
	}
	switch {
	case oauth && c.JWKSFile == "" && c.JWKSURL == "":
		return fmt.Errorf("--sasl-enabled-mechanisms OAUTHBEARER needs --sasl-oauthbearer-jwks-file or --sasl-oauthbearer-jwks-endpoint-url")
	case !oauth && (c.JWKSFile != "" || c.JWKSURL != "" || c.ExpectedAudience != "" || c.ExpectedIssuer != ""):
		return fmt.Errorf("--sasl-oauthbearer-* settings are set but --sasl-enabled-mechanisms does not enable OAUTHBEARER (set to %q)", c.Mechanisms)
	case plain && c.PlainUsersFile == "":
		return fmt.Errorf("--sasl-enabled-mechanisms PLAIN needs --sasl-plain-users-file")
	case !plain && c.PlainUsersFile != "":
		return fmt.Errorf("--sasl-plain-users-file is set but --sasl-enabled-mechanisms does not enable PLAIN (set to %q)", c.Mechanisms)
	}
	return nil
}

// saslServer builds the authenticator of the SASL listeners, or nil if there are none.
func (c *serverConfig) saslServer(ms *meta.Store, log *slog.Logger) (*sasl.Server, error) {
	if !c.hasSASLListener() {
		return nil, nil
	}
	sc := c.listenerConfig.SASL
	cfg := sasl.Config{
		Mechanisms:   sasl.ParseMechanisms(sc.Mechanisms),
		Scram:        broker.ScramStore(ms),
		MaxReauth:    time.Duration(sc.MaxReauthMs) * time.Millisecond,
		FailureDelay: time.Duration(sc.FailureDelayMs) * time.Millisecond,
	}
	if sc.PlainUsersFile != "" {
		users, err := sasl.LoadPlainUsers(sc.PlainUsersFile, log.With("component", "sasl"))
		if err != nil {
			return nil, err
		}
		cfg.PlainUsers = users
		log.Info("loaded the SASL/PLAIN users file", "file", sc.PlainUsersFile, "users", users.Len())
	}
	if sc.JWKSFile != "" || sc.JWKSURL != "" {
		var keys *sasl.JWKS
		var err error
		if sc.JWKSFile != "" {
			keys, err = sasl.LoadJWKS(sc.JWKSFile, log.With("component", "sasl"))
		} else {
			keys, err = sasl.FetchJWKS(sc.JWKSURL, time.Duration(sc.JWKSRefreshMs)*time.Millisecond, log.With("component", "sasl"))
		}
		if err != nil {
			return nil, err
		}
		cfg.OAuth = &sasl.OAuthConfig{Keys: keys, Issuer: sc.ExpectedIssuer, SubClaim: sc.SubClaimName,
			ClockSkew: time.Duration(sc.ClockSkewSeconds) * time.Second}
		for _, a := range strings.Split(sc.ExpectedAudience, ",") {
			if a = strings.TrimSpace(a); a != "" {
				cfg.OAuth.Audience = append(cfg.OAuth.Audience, a)
			}
		}
		log.Info("loaded the OAUTHBEARER key set", "file", sc.JWKSFile, "url", sc.JWKSURL, "keys", keys.Len())
	}
	return sasl.NewServer(cfg)
}
