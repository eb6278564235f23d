package broker

// OffsetCommit: versions 0-9. Partitions of topics this broker does not know get
// UNKNOWN_TOPIC_OR_PARTITION; the others are validated by the group coordinator (member,
// generation, static instance) and stored in etcd, keyed by topic id, in one transaction.
// v0 (and any commit with generation -1 and no member id) is a commit from a client that
// assigns partitions itself. v1's per-partition timestamp is ignored; v2-v4's retention
// time is stored as the offsets' expiry; v6 adds the leader epoch, v7 group.instance.id.
// From v9 the generation of a KIP-848 group's member is its member epoch
// (STALE_MEMBER_EPOCH when it is not current; such members must use v9+).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
	"github.com/kafscale/kafscale/meta"
)

func init() { register(kmsg.OffsetCommit, 0, 9, (*Broker).handleOffsetCommit) }

func (b *Broker) handleOffsetCommit(c *call) {
	req := c.kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	now := time.Now().UnixMilli()
	var expire int64
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis > 0 {
		expire = now + req.RetentionTimeMillis
	}
	cr := group.CommitRequest{Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation, Version: req.Version}
	var at [][2]int // where each of cr.Offsets is answered in resp
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	groupAllowed := c.may(acl.Group, req.Group)
	for i, rt := range req.Topics {
		ot := &resp.Topics[i]
		ot.Default()
		ot.Topic = rt.Topic
		ot.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		t := b.topicByName(rt.Topic)
		topicAllowed := groupAllowed && c.may(acl.Topic, rt.Topic)
		for j, rp := range rt.Partitions {
			op := &ot.Partitions[j]
			op.Default()
			op.Partition = rp.Partition
			if !groupAllowed {
				op.ErrorCode = kerr.GroupAuthorizationFailed.Code
				continue
			}
			if !topicAllowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if t == nil || rp.Partition < 0 || rp.Partition >= t.meta.Partitions {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			cr.Offsets = append(cr.Offsets, meta.GroupOffset{
				Partition: meta.PartitionKey{TopicID: t.id, Partition: rp.Partition},
				Offset:    rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: deref(rp.Metadata),
				CommitUnixMs: now, ExpireUnixMs: expire,
			})
			at = append(at, [2]int{i, j})
		}
	}
	if len(cr.Offsets) > 0 {
		ctx, cancel := b.requestContext(groupStoreTimeout)
		errs := b.groups.CommitOffsets(ctx, cr)
		cancel()
		for k, e := range errs {
			resp.Topics[at[k][0]].Partitions[at[k][1]].ErrorCode = groupCode(e)
		}
	}
	c.respond(resp)
}
