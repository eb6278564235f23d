package broker

// FindCoordinator: versions 0-4. A group's coordinator is the broker holding its slot
// (coordinators.go); transactional ids (key type 1) are answered the same way, so that a
// transactional producer reaches InitProducerId and gets its clear error there instead of
// retrying a lookup until it times out. From v4 several keys are looked up at once
// (KIP-699). Another key type gets INVALID_REQUEST; a slot without a live holder (failover
// under way), or a broker that is not serving, gets COORDINATOR_NOT_AVAILABLE, which
// clients retry.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.FindCoordinator, 0, 4, (*Broker).handleFindCoordinator) }

func (b *Broker) handleFindCoordinator(c *call) {
	req := c.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	ready, _ := b.Ready()
	for _, key := range keys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.NodeID = -1
		switch {
		case req.CoordinatorType != 0 && req.CoordinatorType != 1:
			rc.ErrorCode = kerr.InvalidRequest.Code
		case req.CoordinatorType == 0 && !c.may(acl.Group, key):
			rc.ErrorCode = kerr.GroupAuthorizationFailed.Code
		case req.CoordinatorType == 1 && !c.may(acl.TransactionalID, key):
			rc.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		case !ready:
			rc.ErrorCode = kerr.CoordinatorNotAvailable.Code
		default:
			if owner := b.slotOwner(key); owner != nil {
				host, port := endpointOf(owner, listenerOf(c))
				rc.NodeID, rc.Host, rc.Port = owner.Id, host, port
			} else {
				rc.ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
		}
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	if req.Version < 4 {
		rc := resp.Coordinators[0]
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = rc.ErrorCode, rc.NodeID, rc.Host, rc.Port
		if rc.ErrorCode != 0 {
			msg := kerr.ErrorForCode(rc.ErrorCode).Error()
			resp.ErrorMessage = &msg
		}
		resp.Coordinators = nil
	}
	c.respond(resp)
}
