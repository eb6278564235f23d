package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/meta"
)

// CommitOffsets validates and stores an OffsetCommit. It returns one error per offset
// of req (nil: committed). The commit is one etcd transaction (meta.CommitOffsets).
//
// As in Kafka: a commit with generation -1 comes from a client that assigns partitions
// itself (assign(), Flink), and is accepted while the group is Empty or unknown (else,
// without member id and instance id, it gets UNKNOWN_MEMBER_ID); any other commit must
// come from a current member at the current generation (UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, ILLEGAL_GENERATION), and gets REBALANCE_IN_PROGRESS while the
// group waits for its leader's assignment. A store failure is COORDINATOR_NOT_AVAILABLE,
// which clients retry.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) []*kerr.Error {
	errs := make([]*kerr.Error, len(req.Offsets))
	all := func(e *kerr.Error) []*kerr.Error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = e
			}
		}
		return errs
	}
	if e := c.checkGroupID(req.Group); e != nil {
		return all(e)
	}
	valid := make([]meta.GroupOffset, 0, len(req.Offsets))
	for i, o := range req.Offsets {
		if len(o.Metadata) > c.cfg.OffsetMetadataMaxBytes {
			errs[i] = kerr.OffsetMetadataTooLarge
			continue
		}
		valid = append(valid, o)
	}
	mu := c.stripe(req.Group)
	mu.Lock()
	defer mu.Unlock()
	if e := c.validateCommit(req); e != nil {
		return all(e)
	}
	if len(valid) == 0 {
		return errs
	}
	if err := c.store.CommitOffsets(ctx, req.Group, valid); err != nil {
		offsetStoreErrs.Inc()
		c.log.Warn("cannot store committed offsets", "group", req.Group, "partitions", len(valid), "err", err)
		return all(storeCode(err))
	}
	offsetCommits.Add(len(valid))
	return errs
}

// validateCommit checks who commits against the group's membership. Caller holds the
// group's commit stripe.
func (c *Coordinator) validateCommit(req CommitRequest) *kerr.Error {
	g, e := c.lookup(req.Group, false)
	if e != nil {
		return e
	}
	if g == nil {
		if req.Generation < 0 {
			return nil
		}
		// A member of a generation this coordinator does not know (an earlier
		// incarnation's): it must rejoin.
		return kerr.IllegalGeneration
	}
	defer c.release(g)
	if g.cg != nil {
		return g.cg.validateCommit(req)
	}
	if req.Generation < 0 && g.state == stateEmpty {
		// Kafka takes a commit without generation into an Empty group whatever member id
		// it names: the group has no member it could belong to.
		return nil
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
			return e
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if g.state != stateEmpty {
		return kerr.UnknownMemberID
	}
	if m := g.members[req.MemberID]; m != nil {
		m.lastHeartbeat = c.clock.Now()
	}
	if g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// FetchOffsets returns every committed offset of a group (none for a group that does
// not exist), with one etcd range read. memberID and memberEpoch (OffsetFetch v9) are
// checked for KIP-848 groups: a member must fetch at its current epoch
// (STALE_MEMBER_EPOCH); without them the request comes from an admin.
func (c *Coordinator) FetchOffsets(ctx context.Context, group string, memberID *string, memberEpoch int32) ([]meta.GroupOffset, *kerr.Error) {
	if e := c.checkGroupID(group); e != nil {
		return nil, e
	}
	g, e := c.lookup(group, false)
	if e != nil {
		return nil, e
	}
	if g != nil {
		if g.cg != nil {
			e = g.cg.validateFetch(memberID, memberEpoch)
		}
		c.release(g)
		if e != nil {
			return nil, e
		}
	}
	offs, err := c.store.FetchOffsets(ctx, group)
	if err != nil {
		offsetStoreErrs.Inc()
		c.log.Warn("cannot read committed offsets", "group", group, "err", err)
		return nil, kerr.CoordinatorNotAvailable
	}
	return offs, nil
}

// DeleteOffsets handles an OffsetDelete (KIP-496): it returns the request-level error,
// else one error per partition. An empty group's offsets are deleted; a consumer group
// with members keeps the offsets of topics its members subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC); any other group with members refuses (NON_EMPTY_GROUP).
func (c *Coordinator) DeleteOffsets(ctx context.Context, group string, parts []TopicPartition) (*kerr.Error, []*kerr.Error) {
	if e := c.checkGroupID(group); e != nil {
		return e, nil
	}
	mu := c.stripe(group)
	mu.Lock()
	defer mu.Unlock()
	subscribed, e := c.subscribedTopics(ctx, group)
	if e != nil {
		return e, nil
	}
	errs := make([]*kerr.Error, len(parts))
	var del []meta.PartitionKey
	for i, p := range parts {
		if subscribed != nil && subscribed(p.Topic) {
			errs[i] = kerr.GroupSubscribedToTopic
			continue
		}
		del = append(del, meta.PartitionKey{TopicID: p.TopicID, Partition: p.Partition})
	}
	if len(del) == 0 {
		return nil, errs
	}
	if err := c.store.DeleteOffsets(ctx, group, del); err != nil {
		offsetStoreErrs.Inc()
		c.log.Warn("cannot delete committed offsets", "group", group, "err", err)
		return storeCode(err), nil
	}
	return nil, errs
}

// subscribedTopics returns, for a group with members, which topics they consume (nil
// for a group without members). Caller holds the group's commit stripe.
func (c *Coordinator) subscribedTopics(ctx context.Context, group string) (func(string) bool, *kerr.Error) {
	g, e := c.lookup(group, false)
	if e != nil {
		return nil, e
	}
	if g != nil {
		var (
			nonEmpty = len(g.members) > 0
			consumer = g.protocolType == "consumer"
			topics   map[string]bool
			known    bool
		)
		switch {
		case g.cg != nil:
			nonEmpty, consumer = len(g.cg.members) > 0, true
			topics, known = g.subscribedNames(), true
		case nonEmpty && consumer:
			topics, known = g.subscriptions()
		}
		c.release(g)
		switch {
		case nonEmpty && !consumer:
			return nil, kerr.NonEmptyGroup
		case nonEmpty:
			return func(t string) bool { return !known || topics[t] }, nil
		}
		return nil, nil
	}
	exists, err := c.store.GroupExists(ctx, group)
	if err != nil {
		c.log.Warn("cannot read group", "group", group, "err", err)
		return nil, kerr.CoordinatorNotAvailable
	}
	if !exists {
		return nil, kerr.GroupIDNotFound
	}
	return nil, nil
}

// subscriptions returns the topics the members of a consumer group subscribe to, read
// from their metadata for the group's protocol; false when that is not known (no
// protocol chosen yet, or metadata that does not parse), in which case every topic
// counts as subscribed. Lock must be held.
func (g *group) subscriptions() (map[string]bool, bool) {
	if !g.hasProtocol() {
		return nil, false
	}
	topics := make(map[string]bool)
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadata(g.protocol)); err != nil {
			return nil, false
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics, true
}
