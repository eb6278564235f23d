package broker

// DeleteGroups: versions 0-2. A group without members is deleted with its committed
// offsets (one etcd range delete); one with members gets NON_EMPTY_GROUP, one that does
// not exist GROUP_ID_NOT_FOUND.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
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
		rg.ErrorCode = groupCode(b.groups.DeleteGroup(ctx, name))
		if rg.ErrorCode == 0 {
			c.adminAction("group deleted", "group", name)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	c.respond(resp)
}
