package broker

// SaslHandshake: versions 0-1 (KIP-43, KIP-152). On a SASL listener it starts an exchange
// with the named mechanism and lists the enabled ones (--sasl-enabled-mechanisms); a
// mechanism not enabled gets UNSUPPORTED_SASL_MECHANISM and the connection is closed, as
// Kafka closes it. After v0 the client's tokens come as bare frames (sasl_authenticate.go,
// serveRawSASLToken), after v1 in SaslAuthenticate requests. On an authenticated
// connection a v1 handshake starts a re-authentication (KIP-368) with the same mechanism.
// On a listener without SASL the answer is ILLEGAL_SASL_STATE, as Kafka's KafkaApis gives.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/sasl"
)

func init() { register(kmsg.SASLHandshake, 0, 1, (*Broker).handleSASLHandshake) }

func (b *Broker) handleSASLHandshake(c *call) {
	req := c.kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	auth := c.req.Conn.SASL()
	if auth == nil || b.sasl == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.respond(resp)
		return
	}
	resp.SupportedMechanisms = b.sasl.Mechanisms()
	err := auth.Handshake(b.sasl, req.Mechanism, c.hdr.APIVersion)
	if err == nil {
		c.respond(resp)
		return
	}
	resp.ErrorCode = kerr.IllegalSaslState.Code
	if errors.Is(err, sasl.ErrUnsupportedMechanism) {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
	}
	saslAuthFailures.Inc()
	c.req.RespondThenClose([][]byte{c.encode(resp)}, err)
}
