package broker

// Heartbeat: versions 0-4. REBALANCE_IN_PROGRESS tells a member to rejoin; a stale
// generation gets ILLEGAL_GENERATION, an unknown member UNKNOWN_MEMBER_ID, a replaced
// static member FENCED_INSTANCE_ID (v3+ carries group.instance.id).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.Heartbeat, 0, 4, (*Broker).handleHeartbeat) }

func (b *Broker) handleHeartbeat(c *call) {
	req := c.kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if !c.may(acl.Group, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	resp.ErrorCode = groupCode(b.groups.Heartbeat(group.HeartbeatRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation,
	}))
	c.respond(resp)
}
