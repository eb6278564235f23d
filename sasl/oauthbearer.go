package sasl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OAuthBearer is the SASL/OAUTHBEARER mechanism (RFC 7628, KIP-255).
const OAuthBearer = "OAUTHBEARER"

// OAuthConfig says which JWTs OAUTHBEARER accepts (Kafka's sasl.oauthbearer.* settings of
// its default JWT validator).
type OAuthConfig struct {
	// Keys verify the tokens' signatures (RS256, ES256).
	Keys *JWKS
	// Audience, if set, must hold one of the token's aud values
	// (sasl.oauthbearer.expected.audience).
	Audience []string
	// Issuer, if set, must be the token's iss (sasl.oauthbearer.expected.issuer).
	Issuer string
	// SubClaim names the claim that is the user (sasl.oauthbearer.sub.claim.name).
	SubClaim string
	// ClockSkew is allowed on exp, nbf and iat (sasl.oauthbearer.clock.skew.seconds).
	ClockSkew time.Duration
}

// oauthExchange is the server side of OAUTHBEARER: one client message carrying a bearer
// token. A bad token is answered, as RFC 7628 and Kafka's OAuthBearerSaslServer do, with
// an error JSON the client acknowledges with a lone 0x01, after which the exchange fails.
type oauthExchange struct {
	cfg     *OAuthConfig
	now     func() time.Time
	user    string
	expires time.Time
	failure error // set once the error JSON was sent
}

func (e *oauthExchange) User() string { return e.user }

// Expires returns when the token that authenticated the session expires.
func (e *oauthExchange) Expires() time.Time { return e.expires }

func (e *oauthExchange) Next(_ context.Context, token []byte) ([]byte, bool, error) {
	if e.failure != nil {
		if !bytes.Equal(token, []byte{1}) {
			return nil, false, authFailed("Authentication failed: unexpected OAUTHBEARER message after an error", "%v", e.failure)
		}
		return nil, false, e.failure
	}
	user, exp, err := e.check(string(token))
	if err != nil {
		// The reason stays in the log; the client learns only that the token is invalid.
		e.failure = authFailed(`{"status":"invalid_token"}`, "%v", err)
		return []byte(`{"status":"invalid_token"}`), false, nil
	}
	e.user, e.expires = user, exp
	return nil, true, nil
}

// check parses the client's first message (gs2-header 0x01 auth=Bearer <token> 0x01
// [key=value 0x01]... 0x01) and validates its token; it returns the user and the token's
// expiry.
func (e *oauthExchange) check(msg string) (string, time.Time, error) {
	header, rest, ok := strings.Cut(msg, "\x01")
	flag, authzid, ok2 := strings.Cut(strings.TrimSuffix(header, ","), ",")
	if !ok || !ok2 || !strings.HasSuffix(header, ",") || flag != "n" && flag != "y" || !strings.HasSuffix(rest, "\x01\x01") {
		return "", time.Time{}, fmt.Errorf("malformed OAUTHBEARER client message")
	}
	var bearer string
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "\x01\x01"), "\x01") {
		if v, ok := strings.CutPrefix(kv, "auth="); ok {
			scheme, tok, _ := strings.Cut(v, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				return "", time.Time{}, fmt.Errorf("auth scheme %q is not Bearer", scheme)
			}
			bearer = strings.TrimSpace(tok)
		}
		// Other keys are SASL extensions (KIP-342), not validated here, so ignored.
	}
	if bearer == "" {
		return "", time.Time{}, fmt.Errorf("no bearer token")
	}
	user, exp, err := e.validate(bearer)
	if err != nil {
		return "", time.Time{}, err
	}
	if az := strings.TrimPrefix(authzid, "a="); authzid != "" && az != user {
		return "", time.Time{}, fmt.Errorf("authorization id %q is not the token's subject %q", az, user)
	}
	return user, exp, nil
}

// validate checks a compact JWS: its signature against the key set, then exp, nbf, iat,
// aud, iss and the subject claim.
func (e *oauthExchange) validate(token string) (string, time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, fmt.Errorf("the token is not a signed JWT (%d parts)", len(parts))
	}
	hb, err1 := b64(parts[0])
	pb, err2 := b64(parts[1])
	sig, err3 := b64(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", time.Time{}, fmt.Errorf("the token is not base64url")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return "", time.Time{}, fmt.Errorf("cannot parse the token's header: %v", err)
	}
	if hdr.Alg != "RS256" && hdr.Alg != "ES256" {
		return "", time.Time{}, fmt.Errorf("algorithm %q is not RS256 or ES256", hdr.Alg)
	}
	key, err := e.cfg.Keys.key(hdr.Kid, hdr.Alg)
	if err != nil {
		return "", time.Time{}, err
	}
	if !key.verify([]byte(parts[0]+"."+parts[1]), sig) {
		return "", time.Time{}, fmt.Errorf("bad signature (kid %q)", hdr.Kid)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return "", time.Time{}, fmt.Errorf("cannot parse the token's claims: %v", err)
	}
	now, skew := e.now(), e.cfg.ClockSkew
	exp, ok := numericDate(claims["exp"])
	switch {
	case !ok:
		return "", time.Time{}, fmt.Errorf("the token has no exp claim")
	case !now.Before(exp.Add(skew)):
		return "", time.Time{}, fmt.Errorf("the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(skew).Before(nbf) {
		return "", time.Time{}, fmt.Errorf("the token is not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, ok := numericDate(claims["iat"]); ok && now.Add(skew).Before(iat) {
		return "", time.Time{}, fmt.Errorf("the token was issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	if len(e.cfg.Audience) > 0 {
		var aud []string
		switch v := claims["aud"].(type) {
		case string:
			aud = []string{v}
		case []any:
			for _, a := range v {
				if s, ok := a.(string); ok {
					aud = append(aud, s)
				}
			}
		}
		if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(e.cfg.Audience, a) }) {
			return "", time.Time{}, fmt.Errorf("audience %v is not one of %v", aud, e.cfg.Audience)
		}
	}
	if e.cfg.Issuer != "" {
		if iss, _ := claims["iss"].(string); iss != e.cfg.Issuer {
			return "", time.Time{}, fmt.Errorf("issuer %q is not %q", iss, e.cfg.Issuer)
		}
	}
	sub, _ := claims[e.cfg.SubClaim].(string)
	if strings.TrimSpace(sub) == "" {
		return "", time.Time{}, fmt.Errorf("the token has no %s claim", e.cfg.SubClaim)
	}
	return sub, exp, nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly fractional).
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*1e9)), true
}
