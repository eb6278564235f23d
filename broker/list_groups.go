package broker

// ListGroups: versions 0-5. Groups in the coordinator's memory (with members, or Empty
// once their members left) and groups known only from their committed offsets (state
// Empty, no protocol type). v4 filters by state, v5 by type ("classic"; KIP-848 groups are
// "consumer"); both filters ignore case, as Kafka's parsing does.

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.ListGroups, 0, 5, (*Broker).handleListGroups) }

func (b *Broker) handleListGroups(c *call) {
	req := c.kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	ctx, cancel := b.requestContext(groupStoreTimeout)
	defer cancel()
	groups, e := b.groups.ListGroups(ctx)
	resp.ErrorCode = groupCode(e)
	matches := func(filter []string, v string) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, v) })
	}
	// As Kafka: DESCRIBE on the cluster lists every group, else those the principal may
	// describe.
	all := c.allows(acl.Describe, acl.Cluster, acl.ClusterName)
	for _, g := range groups {
		if !all && !c.allows(acl.Describe, acl.Group, g.Group) {
			continue
		}
		if !matches(req.StatesFilter, g.State) || !matches(req.TypesFilter, g.Type) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, rg)
	}
	c.respond(resp)
}
