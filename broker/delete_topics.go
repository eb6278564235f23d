package broker

// DeleteTopics: versions 1-6. Topics are named, or from v6 given by topic id
// (UNKNOWN_TOPIC_ID when absent). Deletion is one etcd transaction whatever the partition
// count; the recreated topic gets a new id, so it never sees old data.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DeleteTopics, 1, 6, (*Broker).handleDeleteTopics) }

func (b *Broker) handleDeleteTopics(c *call) {
	req := c.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := b.requestContext(time.Duration(max(req.TimeoutMillis, 1000)) * time.Millisecond)
	defer cancel()
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, rt := range req.Topics {
			targets = append(targets, target{name: rt.Topic, id: rt.TopicID})
		}
	} else {
		for _, name := range req.TopicNames {
			targets = append(targets, target{name: &name})
		}
	}
	for _, tg := range targets {
		rr := kmsg.NewDeleteTopicsResponseTopic()
		rr.Topic = tg.name
		rr.TopicID = tg.id
		var t *topic
		if tg.name != nil {
			t = b.topicByName(*tg.name)
			if !c.may(acl.Topic, *tg.name) {
				t = nil
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if t == nil {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
		} else {
			t = b.topicByID(tg.id)
			if t == nil || !c.allows(acl.Describe, acl.Topic, t.meta.Name) {
				t = nil // as Kafka: a topic the principal may not describe is not known
				rr.ErrorCode = kerr.UnknownTopicID.Code
			} else if !c.may(acl.Topic, t.meta.Name) {
				t = nil
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
			}
		}
		if t != nil {
			name := t.meta.Name
			rr.Topic = &name
			rr.TopicID = t.id
			if err := b.deleteTopic(ctx, name); err != nil {
				rr.ErrorCode = errCodeOf(err)
				rr.ErrorMessage = errMessage(err)
			} else {
				c.adminAction("topic deleted", "topic", name)
			}
		}
		resp.Topics = append(resp.Topics, rr)
	}
	c.respond(resp)
}
