package broker

// DescribeGroups: versions 0-5. A group that does not exist is described as Dead without
// an error (GROUP_ID_NOT_FOUND comes with v6); a group with only committed offsets is
// Empty. Members' metadata and assignments are given while the group is Stable. There
// are no ACLs: asked for (v3+), authorized operations are every group operation (READ,
// DELETE, DESCRIBE).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DescribeGroups, 0, 5, (*Broker).handleDescribeGroups) }

// groupOperations is the bit set of READ (3), DELETE (6) and DESCRIBE (8), the operations
// Kafka defines on a group.
const groupOperations = 1<<3 | 1<<6 | 1<<8

func (b *Broker) handleDescribeGroups(c *call) {
	req := c.kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	ctx, cancel := b.requestContext(groupStoreTimeout)
	defer cancel()
	for _, name := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		if !c.may(acl.Group, name) {
			rg.Group, rg.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		d := b.groups.DescribeGroup(ctx, name)
		rg.Group, rg.ErrorCode, rg.State, rg.ProtocolType, rg.Protocol = name, groupCode(d.Err), d.State, d.ProtocolType, d.Protocol
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = c.authorizedOps(acl.Group, name, groupOperations)
		}
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	c.respond(resp)
}
