package broker

// OffsetDelete: version 0 (KIP-496). Deletes committed offsets of a group: all of an
// empty group's; of a consumer group with members, those of topics no member subscribes
// to (the others get GROUP_SUBSCRIBED_TO_TOPIC); a non-consumer group with members gets
// NON_EMPTY_GROUP and a group that does not exist GROUP_ID_NOT_FOUND. Partitions of
// topics this broker does not know get UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.OffsetDelete, 0, 0, (*Broker).handleOffsetDelete) }

func (b *Broker) handleOffsetDelete(c *call) {
	req := c.kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	var parts []group.TopicPartition
	var at [][2]int // where each of parts is answered in resp
	if !c.may(acl.Group, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		ot := &resp.Topics[i]
		ot.Default()
		ot.Topic = rt.Topic
		ot.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(rt.Partitions))
		t := b.topicByName(rt.Topic)
		allowed := c.may(acl.Topic, rt.Topic)
		for j, rp := range rt.Partitions {
			op := &ot.Partitions[j]
			op.Default()
			op.Partition = rp.Partition
			if !allowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if t == nil || rp.Partition < 0 || rp.Partition >= t.meta.Partitions {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			parts = append(parts, group.TopicPartition{Topic: rt.Topic, TopicID: t.id, Partition: rp.Partition})
			at = append(at, [2]int{i, j})
		}
	}
	ctx, cancel := b.requestContext(groupStoreTimeout)
	defer cancel()
	top, errs := b.groups.DeleteOffsets(ctx, req.Group, parts)
	if top != nil {
		resp.ErrorCode = top.Code
		resp.Topics = nil
		c.respond(resp)
		return
	}
	for k, e := range errs {
		resp.Topics[at[k][0]].Partitions[at[k][1]].ErrorCode = groupCode(e)
	}
	c.respond(resp)
}
