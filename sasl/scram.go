package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
)

// SCRAM iteration bounds, as Kafka's ScramMechanism and AlterUserScramCredentials check them.
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
)

// ScramCredential is what the broker keeps of a SCRAM password (RFC 5802, section 3):
// enough to check a client's proof and prove itself, never the password.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// ScramStore looks up a user's credential for a SCRAM mechanism.
type ScramStore interface {
	// ScramCredential returns the credential, or false if the user has none for mechanism.
	ScramCredential(ctx context.Context, mechanism, user string) (ScramCredential, bool, error)
}

// scramHash returns the hash of a SCRAM mechanism, or nil if it is not one.
func scramHash(mechanism string) func() hash.Hash {
	switch mechanism {
	case ScramSHA256:
		return sha256.New
	case ScramSHA512:
		return sha512.New
	}
	return nil
}

// IsScram reports whether mechanism is a SCRAM mechanism this package knows.
func IsScram(mechanism string) bool { return scramHash(mechanism) != nil }

// NewScramCredential derives the stored credential from a salted password (Hi(password,
// salt, iterations), which is what AlterUserScramCredentials carries).
func NewScramCredential(mechanism string, salt, saltedPassword []byte, iterations int) (ScramCredential, error) {
	h := scramHash(mechanism)
	if h == nil {
		return ScramCredential{}, fmt.Errorf("unknown SCRAM mechanism %q", mechanism)
	}
	clientKey := hmacOf(h, saltedPassword, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return ScramCredential{
		Salt:       append([]byte(nil), salt...),
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacOf(h, saltedPassword, []byte("Server Key")),
		Iterations: iterations,
	}, nil
}

// SaltPassword returns Hi(password, salt, iterations) for mechanism (RFC 5802, 2.2).
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h := scramHash(mechanism)
	if h == nil {
		return nil, fmt.Errorf("unknown SCRAM mechanism %q", mechanism)
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

func hmacOf(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// scramExchange is the server side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677, KIP-84):
// client-first, server-first, client-final, server-final.
type scramExchange struct {
	mech  string
	h     func() hash.Hash
	store ScramStore

	step            int // 0: expecting client-first; 1: expecting client-final
	user            string
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string // the client's nonce and ours
	cred            ScramCredential
}

func newScramExchange(mech string, store ScramStore) *scramExchange {
	return &scramExchange{mech: mech, h: scramHash(mech), store: store}
}

func (e *scramExchange) User() string { return e.user }

// invalidCredentials is Kafka's message for a failed SCRAM login, whatever the cause: the
// client is not told whether the user exists.
func (e *scramExchange) invalidCredentials(reason string, args ...any) error {
	return authFailed("Authentication failed during authentication due to invalid credentials with SASL mechanism "+e.mech, reason, args...)
}

func (e *scramExchange) Next(ctx context.Context, token []byte) ([]byte, bool, error) {
	switch e.step {
	case 0:
		return e.clientFirst(ctx, string(token))
	case 1:
		return e.clientFinal(string(token))
	}
	return nil, false, fmt.Errorf("%w: SCRAM token after the exchange ended", ErrIllegalState)
}

func (e *scramExchange) clientFirst(ctx context.Context, msg string) ([]byte, bool, error) {
	// gs2-header: cbind-flag "," [authzid] ","
	flag, rest, ok1 := strings.Cut(msg, ",")
	authzid, bare, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return nil, false, authFailed("Invalid SCRAM client first message", "no gs2 header")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, false, authFailed("Invalid SCRAM client first message: channel binding is not supported", "")
	default:
		return nil, false, authFailed("Invalid SCRAM client first message", "bad gs2 flag %q", flag)
	}
	fields := strings.Split(bare, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "n=") || !strings.HasPrefix(fields[1], "r=") || len(fields[1]) == 2 {
		return nil, false, authFailed("Invalid SCRAM client first message", "want n=user,r=nonce")
	}
	user, err := decodeSaslName(fields[0][2:])
	if err != nil || user == "" {
		return nil, false, authFailed("Invalid SCRAM client first message", "bad user name: %v", err)
	}
	for _, ext := range fields[2:] {
		// KIP-84's only extension is tokenauth (delegation tokens), not built here.
		return nil, false, authFailed("Invalid SCRAM client first message: unsupported extension", "extension %q", ext)
	}
	if authzid != "" {
		az, err := decodeSaslName(strings.TrimPrefix(authzid, "a="))
		if !strings.HasPrefix(authzid, "a=") || err != nil || az != user {
			return nil, false, authFailed("Authentication failed: Client requested an authorization id that is different from username", "authzid %q, user %q", authzid, user)
		}
	}
	cred, ok, err := e.store.ScramCredential(ctx, e.mech, user)
	if err != nil {
		return nil, false, fmt.Errorf("cannot look up the SCRAM credential of %q: %w", user, err)
	}
	if !ok {
		return nil, false, e.invalidCredentials("user %q has no %s credential", user, e.mech)
	}
	var nb [24]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, false, fmt.Errorf("cannot make a SCRAM nonce: %w", err)
	}
	e.user, e.cred = user, cred
	e.gs2Header = flag + "," + authzid + ","
	e.clientFirstBare = bare
	e.nonce = fields[1][2:] + base64.RawURLEncoding.EncodeToString(nb[:])
	e.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", e.nonce, base64.StdEncoding.EncodeToString(cred.Salt), cred.Iterations)
	e.step = 1
	return []byte(e.serverFirst), false, nil
}

func (e *scramExchange) clientFinal(msg string) ([]byte, bool, error) {
	e.step = 2
	withoutProof, proofField, ok := cutLast(msg, ",p=")
	if !ok {
		return nil, false, e.invalidCredentials("client final message has no proof")
	}
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 || fields[0] != "c="+base64.StdEncoding.EncodeToString([]byte(e.gs2Header)) {
		return nil, false, e.invalidCredentials("channel binding does not match the gs2 header")
	}
	// Kafka's ScramSaslServer only checks that the nonce ends with the server's, and
	// librdkafka (through 2.x) sends its own nonce before the server's full nonce, which
	// already starts with it: so the check is the same here.
	if !strings.HasPrefix(fields[1], "r=") || !strings.HasSuffix(fields[1], e.nonce) {
		return nil, false, e.invalidCredentials("nonce does not match the server's")
	}
	proof, err := base64.StdEncoding.DecodeString(proofField)
	if err != nil || len(proof) != len(e.cred.StoredKey) {
		return nil, false, e.invalidCredentials("bad proof encoding")
	}
	authMessage := []byte(e.clientFirstBare + "," + e.serverFirst + "," + withoutProof)
	sig := hmacOf(e.h, e.cred.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	stored := e.h()
	stored.Write(clientKey)
	if !hmac.Equal(stored.Sum(nil), e.cred.StoredKey) {
		return nil, false, e.invalidCredentials("wrong password for user %q", e.user)
	}
	serverSig := hmacOf(e.h, e.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), true, nil
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// decodeSaslName undoes RFC 5802's escaping of "," and "=" in names.
func decodeSaslName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("bad escape in %q", s)
		}
		i += 2
	}
	return b.String(), nil
}
