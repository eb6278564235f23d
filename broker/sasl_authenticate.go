package broker

// SaslAuthenticate: versions 0-2 (KIP-152, KIP-368). Carries the client's SASL tokens
// after a v1 SaslHandshake and the broker's replies. When the exchange completes the
// connection's principal is User:<name>, and from v1 the answer carries the session's
// lifetime (--connections-max-reauth-ms; 0: none), after which the connection must
// re-authenticate or is closed on its next request. Bad credentials get
// SASL_AUTHENTICATION_FAILED with a message, after --connection-failed-authentication-delay
// (Kafka's connection.failed.authentication.delay.ms, slowing password guessing without
// holding a goroutine or an event loop), and the connection is closed; the failure is
// logged, rate limited. A SaslAuthenticate on an authenticated connection, or on a
// listener without SASL, gets ILLEGAL_SASL_STATE, as from Kafka's KafkaApis.
//
// After a v0 SaslHandshake the tokens are bare frames (serveRawSASLToken): the reply is a
// bare frame too, and a failure closes the connection without an answer, as Kafka does.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/netio"
	"github.com/kafscale/kafscale/ratelog"
	"github.com/kafscale/kafscale/sasl"
)

func init() { register(kmsg.SASLAuthenticate, 0, 2, (*Broker).handleSASLAuthenticate) }

// saslStepTimeout bounds one SASL step, a credential lookup in etcd included.
const saslStepTimeout = 10 * time.Second

var (
	saslAuthSuccesses   = metrics.NewCounter(`kafscale_sasl_authentications_total{result="success"}`)
	saslAuthFailures    = metrics.NewCounter(`kafscale_sasl_authentications_total{result="failure"}`)
	saslRefusedRequests = metrics.NewCounter(`kafscale_sasl_refused_requests_total`)
	saslReauths         = metrics.NewCounter(`kafscale_sasl_reauthentications_total`)
	// saslFailureLog bounds the lines about failed logins, which a client can cause as
	// fast as it reconnects.
	saslFailureLog = ratelog.New("sasl_authentication_failures", 20, 10*time.Second)
	saslErrorLog   = ratelog.New("sasl_authentication_errors", 20, 10*time.Second)
)

func (b *Broker) handleSASLAuthenticate(c *call) {
	req := c.kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	auth := c.req.Conn.SASL()
	if auth == nil || b.sasl == nil || auth.User() != "" && !auth.Authenticating() {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate request received after successful authentication"
		if auth == nil {
			msg = "SaslAuthenticate request received on a listener without SASL"
		}
		resp.ErrorMessage = &msg
		c.respond(resp)
		return
	}
	reply, done, lifetime, err := b.saslStep(c.req, auth, req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		var ae *sasl.AuthError
		if errors.As(err, &ae) {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = &ae.Message
		} else if !errors.Is(err, sasl.ErrIllegalState) {
			c.req.Close(err) // the broker's failure, not the client's: it may retry
			return
		}
		buf := c.encode(resp)
		b.afterFailureDelay(func() { c.req.RespondThenClose([][]byte{buf}, err) })
		return
	}
	resp.SASLAuthBytes = reply
	if done {
		resp.SessionLifetimeMillis = lifetime.Milliseconds()
	}
	c.respond(resp)
}

// serveRawSASLToken answers a bare token frame after a v0 SaslHandshake.
func (b *Broker) serveRawSASLToken(req *netio.Request, auth *sasl.Session) {
	reply, _, _, err := b.saslStep(req, auth, req.Frame)
	if err != nil {
		var ae *sasl.AuthError
		if !errors.As(err, &ae) && !errors.Is(err, sasl.ErrIllegalState) {
			req.Close(err)
			return
		}
		b.afterFailureDelay(func() { req.Close(err) })
		return
	}
	req.Respond([][]byte{reply}, nil)
}

// saslStep runs one step of the connection's exchange, logging its outcome.
func (b *Broker) saslStep(req *netio.Request, auth *sasl.Session, token []byte) ([]byte, bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(b.requests, saslStepTimeout)
	defer cancel()
	reauth := auth.User() != ""
	reply, done, lifetime, err := auth.Step(ctx, token, time.Now())
	conn := req.Conn
	var ae *sasl.AuthError
	switch {
	case err == nil && done:
		saslAuthSuccesses.Inc()
		if reauth {
			saslReauths.Inc()
		}
		b.log.Debug("SASL authentication succeeded", "principal", conn.Principal(), "mechanism", auth.Mechanism(),
			"listener", conn.Listener(), "remote", conn.RemoteAddr(), "session_lifetime", lifetime)
	case errors.As(err, &ae):
		saslAuthFailures.Inc()
		saslFailureLog.Log(b.log, slog.LevelWarn, "SASL authentication failed", "mechanism", auth.Mechanism(),
			"reason", ae.Error(), "listener", conn.Listener(), "remote", conn.RemoteAddr())
	case err != nil && !errors.Is(err, sasl.ErrIllegalState):
		// Rate limited too: while etcd is unreachable every client's retry gets here.
		saslErrorLog.Log(b.log, slog.LevelError, "cannot authenticate a SASL client, closing its connection", "mechanism", auth.Mechanism(),
			"listener", conn.Listener(), "remote", conn.RemoteAddr(), "err", err)
	}
	return reply, done, lifetime, err
}

// afterFailureDelay runs answer after the configured failure delay, on a timer rather
// than the connection's dispatcher, so a guessing client waits without holding anything
// but the timer; later requests on its connection are not served (the session failed).
func (b *Broker) afterFailureDelay(answer func()) {
	d := b.sasl.FailureDelay()
	if d <= 0 {
		answer()
		return
	}
	time.AfterFunc(d, answer)
}
