package broker

// SyncGroup: versions 0-5. Followers wait for the leader's assignment; the answer is sent
// from the goroutine of the leader's SyncGroup. v3 adds group.instance.id; v5 names the
// protocol type and protocol, which must match the group's (INCONSISTENT_GROUP_PROTOCOL).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.SyncGroup, 0, 5, (*Broker).handleSyncGroup) }

func (b *Broker) handleSyncGroup(c *call) {
	req := c.kreq.(*kmsg.SyncGroupRequest)
	if !c.may(acl.Group, req.Group) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	sr := group.SyncRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol,
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments = append(sr.Assignments, group.Assignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	b.groups.Sync(sr, func(r group.SyncResponse) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = groupCode(r.Err)
		if r.Err == nil {
			resp.ProtocolType = &r.ProtocolType
			resp.Protocol = &r.Protocol
			resp.MemberAssignment = r.Assignment
		}
		c.respond(resp)
	})
}
