package broker

// DeleteGroups: versions 0-2. A group without members is deleted with its committed
// offsets (one etcd range delete); one with members gets NON_EMPTY_GROUP, one that does
// not exist GROUP_ID_NOT_FOUND.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DeleteGroups, 0, 2, (*Broker).handleDeleteGroups) }

func (b *Broker) handleDeleteGroups(c *call) {
	req := c.kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	ctx, cancel := b.requestContext(groupStoreTimeout)
	defer cancel()
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = name
		if !c.may(acl.Group, name) {
			rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.ErrorCode = groupCode(b.groups.DeleteGroup(ctx, name))
		if rg.ErrorCode == 0 {
			c.adminAction("group deleted", "group", name)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	c.respond(resp)
}
