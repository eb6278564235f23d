package group

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ListGroups returns every group: those in memory (with members, or Empty once their
// members left, with their protocol type) and those known only from their committed
// offsets (from etcd: after a restart or a coordinator move, or committed without
// membership; state Empty and no protocol type, as Kafka lists such a group).
func (c *Coordinator) ListGroups(ctx context.Context) ([]GroupListing, *kerr.Error) {
	stored, err := c.store.ListGroups(ctx)
	if err != nil {
		c.log.Warn("cannot list groups", "err", err)
		return nil, kerr.CoordinatorNotAvailable
	}
	seen := make(map[string]bool)
	var out []GroupListing
	c.mu.Lock()
	live := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		live = append(live, g)
	}
	c.mu.Unlock()
	for _, g := range live {
		g.mu.Lock()
		switch {
		case g.dead:
		case g.cg != nil:
			seen[g.name] = true
			out = append(out, GroupListing{Group: g.name, ProtocolType: "consumer", State: g.cg.stateName(), Type: "consumer"})
		default:
			seen[g.name] = true
			out = append(out, GroupListing{Group: g.name, ProtocolType: g.protocolType, State: g.state.String(), Type: "classic"})
		}
		g.mu.Unlock()
	}
	for _, name := range stored {
		if !seen[name] && c.owns(name) {
			out = append(out, GroupListing{Group: name, State: stateEmpty.String(), Type: "classic"})
		}
	}
	slices.SortFunc(out, func(a, b GroupListing) int {
		switch {
		case a.Group < b.Group:
			return -1
		case a.Group > b.Group:
			return 1
		}
		return 0
	})
	return out, nil
}

// DescribeGroup describes one group. A group that does not exist, or is a KIP-848
// consumer group (see DescribeConsumerGroup), is described as Dead with no error
// (DescribeGroups before v6); one whose members all left is Empty, with its protocol
// type. Members' metadata and assignments are given only while the group is Stable, as
// Kafka does.
func (c *Coordinator) DescribeGroup(ctx context.Context, name string) GroupDescription {
	if e := c.checkGroupID(name); e != nil {
		return GroupDescription{Err: e, State: stateDead.String()}
	}
	g, e := c.lookup(name, false)
	if e != nil {
		return GroupDescription{Err: e, State: stateDead.String()}
	}
	if g == nil {
		exists, err := c.store.GroupExists(ctx, name)
		if err != nil {
			c.log.Warn("cannot read group", "group", name, "err", err)
			return GroupDescription{Err: kerr.CoordinatorNotAvailable, State: stateDead.String()}
		}
		if exists {
			return GroupDescription{State: stateEmpty.String()}
		}
		return GroupDescription{State: stateDead.String()}
	}
	defer c.release(g)
	if g.cg != nil {
		return GroupDescription{State: stateDead.String()}
	}
	d := GroupDescription{State: g.state.String(), ProtocolType: g.protocolType}
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if stable {
			md.Metadata = m.metadata(g.protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// DeleteGroup deletes a group without members and its committed offsets
// (NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when there is neither a group
// in memory nor committed offsets).
func (c *Coordinator) DeleteGroup(ctx context.Context, name string) *kerr.Error {
	if e := c.checkGroupID(name); e != nil {
		return e
	}
	mu := c.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	inMemory, e := c.forgetEmpty(name)
	if e != nil {
		return e
	}
	n, err := c.store.DeleteGroup(ctx, name)
	if err != nil {
		offsetStoreErrs.Inc()
		c.log.Warn("cannot delete group", "group", name, "err", err)
		return storeCode(err)
	}
	if n == 0 && !inMemory {
		return kerr.GroupIDNotFound
	}
	c.log.Info("group deleted", "group", name, "offsets", n)
	return nil
}

// forgetEmpty drops the in-memory group called name unless it has members, in which
// case it returns NON_EMPTY_GROUP. It reports whether there was a group in memory.
// Members that only got MEMBER_ID_REQUIRED are dropped with it: their next JoinGroup
// gets UNKNOWN_MEMBER_ID, and they join again.
func (c *Coordinator) forgetEmpty(name string) (bool, *kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, kerr.CoordinatorNotAvailable
	}
	g := c.groups[name]
	if g == nil {
		return false, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hasMembers() {
		return true, kerr.NonEmptyGroup
	}
	g.kill()
	delete(c.groups, name)
	return true, nil
}
