package broker

// OffsetFetch: versions 0-9. Before v8 one group, from v8 several (KIP-709); null topics
// (v2+) ask for every committed partition. A group's offsets are one etcd range read,
// keyed by topic id: offsets of a deleted topic are not returned, and a recreated topic
// starts with none. A partition without a committed offset gets offset -1 and no error,
// as in Kafka; so does every partition of a group that does not exist. Group errors are
// per partition in v0-v1, top-level in v2-v7 and per group from v8. RequireStable (v7+)
// needs no wait: there are no transactional offsets yet. v9's member id and epoch are
// checked for KIP-848 groups (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID); classic groups
// ignore them.

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/meta"
)

func init() { register(kmsg.OffsetFetch, 0, 9, (*Broker).handleOffsetFetch) }

func (b *Broker) handleOffsetFetch(c *call) {
	req := c.kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	ctx, cancel := b.requestContext(groupStoreTimeout)
	defer cancel()
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := b.fetchGroupOffsets(ctx, c, rg.Group, rg.MemberID, rg.MemberEpoch, rg.Topics)
			if g.ErrorCode != 0 {
				g.Topics = nil
			}
			resp.Groups = append(resp.Groups, g)
		}
		c.respond(resp)
		return
	}
	var topics []kmsg.OffsetFetchRequestGroupTopic
	if req.Topics != nil || req.Version < 2 {
		topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
		for _, rt := range req.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: rt.Topic, Partitions: rt.Partitions})
		}
	}
	g := b.fetchGroupOffsets(ctx, c, req.Group, nil, -1, topics)
	if req.Version >= 2 {
		resp.ErrorCode = g.ErrorCode
		if g.ErrorCode != 0 {
			g.Topics = nil
		}
	}
	for _, gt := range g.Topics {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = gt.Topic
		for _, gp := range gt.Partitions {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch, op.Metadata, op.ErrorCode = gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	c.respond(resp)
}

// fetchGroupOffsets answers one group of an OffsetFetch; nil topics means every
// committed partition.
func (b *Broker) fetchGroupOffsets(ctx context.Context, c *call, name string, memberID *string, memberEpoch int32, topics []kmsg.OffsetFetchRequestGroupTopic) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = name
	var offs []meta.GroupOffset
	var e *kerr.Error
	if c.may(acl.Group, name) {
		offs, e = b.groups.FetchOffsets(ctx, name, memberID, memberEpoch)
	} else {
		e = kerr.GroupAuthorizationFailed
	}
	out.ErrorCode = groupCode(e)
	noMetadata := ""
	part := func(p int32, o *meta.GroupOffset) kmsg.OffsetFetchResponseGroupTopicPartition {
		op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		op.Partition = p
		op.Offset, op.Metadata = -1, &noMetadata
		if o != nil {
			md := o.Metadata
			op.Offset, op.LeaderEpoch, op.Metadata = o.Offset, o.LeaderEpoch, &md
		}
		return op
	}
	if topics == nil {
		if e != nil {
			return out
		}
		byTopic := make(map[string]*kmsg.OffsetFetchResponseGroupTopic)
		for i := range offs {
			t := b.topicByID(offs[i].Partition.TopicID)
			if t == nil || !c.allows(acl.Describe, acl.Topic, t.meta.Name) {
				continue // a deleted topic, or one the principal may not see
			}
			ot := byTopic[t.meta.Name]
			if ot == nil {
				v := kmsg.NewOffsetFetchResponseGroupTopic()
				v.Topic = t.meta.Name
				ot = &v
				byTopic[t.meta.Name] = ot
			}
			ot.Partitions = append(ot.Partitions, part(offs[i].Partition.Partition, &offs[i]))
		}
		for _, ot := range byTopic {
			out.Topics = append(out.Topics, *ot)
		}
		slices.SortFunc(out.Topics, func(a, b kmsg.OffsetFetchResponseGroupTopic) int { return cmp.Compare(a.Topic, b.Topic) })
		return out
	}
	byKey := make(map[meta.PartitionKey]*meta.GroupOffset, len(offs))
	for i := range offs {
		byKey[offs[i].Partition] = &offs[i]
	}
	for _, rt := range topics {
		ot := kmsg.NewOffsetFetchResponseGroupTopic()
		ot.Topic = rt.Topic
		t := b.topicByName(rt.Topic)
		allowed := c.may(acl.Topic, rt.Topic)
		for _, p := range rt.Partitions {
			var o *meta.GroupOffset
			if t != nil && allowed {
				o = byKey[meta.PartitionKey{TopicID: t.id, Partition: p}]
			}
			op := part(p, o)
			if e != nil {
				op.ErrorCode = e.Code
			} else if !allowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		out.Topics = append(out.Topics, ot)
	}
	return out
}
