package broker

// JoinGroup: versions 0-9. Answered by group.Coordinator; the answer usually waits for
// the rebalance to complete and is sent from the goroutine that completes it (netio
// keeps the connection's responses in request order). From v4 a member joining without a
// member id first gets MEMBER_ID_REQUIRED with its id (KIP-394); v5 adds
// group.instance.id (static membership, KIP-345); v7 names the protocol type in the
// answer; v8 carries a reason; v9 tells a static leader to skip assignment (KIP-814). v0
// has no rebalance timeout: the session timeout is used.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.JoinGroup, 0, 9, (*Broker).handleJoinGroup) }

func (b *Broker) handleJoinGroup(c *call) {
	req := c.kreq.(*kmsg.JoinGroupRequest)
	if !c.may(acl.Group, req.Group) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = kerr.GroupAuthorizationFailed.Code, -1
		c.respond(resp)
		return
	}
	jr := group.JoinRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID,
		ClientID: c.hdr.ClientID, ClientHost: clientHost(c),
		SessionTimeout: millis(req.SessionTimeoutMillis), RebalanceTimeout: millis(req.RebalanceTimeoutMillis),
		ProtocolType: req.ProtocolType, RequireKnownMemberID: req.Version >= 4, Reason: deref(req.Reason),
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	b.groups.Join(jr, func(r group.JoinResponse) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = groupCode(r.Err)
		resp.Generation = r.Generation
		resp.MemberID = r.MemberID
		resp.LeaderID = r.LeaderID
		resp.SkipAssignment = r.SkipAssignment
		if r.Err == nil {
			resp.ProtocolType = &r.ProtocolType
			resp.Protocol = &r.Protocol
		}
		for _, m := range r.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
			resp.Members = append(resp.Members, rm)
		}
		c.respond(resp)
	})
}
