package broker

// LeaveGroup: versions 0-5. Before v3 one member leaves and the error is top-level; from
// v3 several members leave at once, by member id or by group.instance.id (an
// administrator removing static members), each with its own error (KIP-345); v5 carries
// a reason.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.LeaveGroup, 0, 5, (*Broker).handleLeaveGroup) }

func (b *Broker) handleLeaveGroup(c *call) {
	req := c.kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !c.may(acl.Group, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	var members []group.LeaveMember
	if req.Version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			members = append(members, group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID, Reason: deref(m.Reason)})
		}
	}
	r := b.groups.Leave(req.Group, members)
	resp.ErrorCode = groupCode(r.Err)
	if r.Err == nil {
		if req.Version < 3 {
			resp.ErrorCode = groupCode(r.Members[0])
		} else {
			for i, m := range req.Members {
				rm := kmsg.NewLeaveGroupResponseMember()
				rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, groupCode(r.Members[i])
				resp.Members = append(resp.Members, rm)
			}
		}
	}
	c.respond(resp)
}
