package broker

// InitProducerId: versions 0-5. Idempotent and transactional producers are not supported
// yet, so every request gets CLUSTER_AUTHORIZATION_FAILED, which Kafka clients understand as
// "idempotence is not allowed here" (set enable.idempotence=false until that issue lands).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID, 0, 5, (*Broker).handleInitProducerID) }

func (b *Broker) handleInitProducerID(c *call) {
	resp := c.kreq.(*kmsg.InitProducerIDRequest).ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
	resp.ProducerID = -1
	resp.ProducerEpoch = -1
	c.respond(resp)
}
