package broker

// DeleteTopics: versions 1-6. Topics are named, or from v6 given by topic id
// (UNKNOWN_TOPIC_ID when absent). Deletion is one etcd transaction whatever the partition
// count; the recreated topic gets a new id, so it never sees old data. With --authorizer,
// as Kafka's controller decides (ControllerApis.deleteTopics, checked against Kafka by
// tests/oracle): DELETE on the cluster allows every topic; otherwise a name the principal
// may not describe is TOPIC_AUTHORIZATION_FAILED whether it exists or not, a describable
// one that does not exist UNKNOWN_TOPIC_OR_PARTITION, and one it may not delete
// TOPIC_AUTHORIZATION_FAILED; an id that names no topic is UNKNOWN_TOPIC_ID, and one the
// principal may not delete TOPIC_AUTHORIZATION_FAILED, with the name only if it may
// describe the topic.

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
	clusterDelete := c.allows(acl.Delete, acl.Cluster, acl.ClusterName)
	// mayDelete and mayDescribe decide for a topic name; a refusal to delete is logged.
	mayDelete := func(name string) bool { return clusterDelete || c.may(acl.Topic, name) }
	mayDescribe := func(name string) bool { return clusterDelete || c.allows(acl.Describe, acl.Topic, name) }
	for _, tg := range targets {
		rr := kmsg.NewDeleteTopicsResponseTopic()
		rr.Topic = tg.name
		rr.TopicID = tg.id
		var t *topic
		if tg.name != nil {
			t = b.topicByName(*tg.name)
			deletable := mayDelete(*tg.name)
			switch {
			case !deletable && !mayDescribe(*tg.name):
				t = nil
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case t == nil:
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !deletable:
				t = nil
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
			}
		} else {
			t = b.topicByID(tg.id)
			if t == nil {
				rr.ErrorCode = kerr.UnknownTopicID.Code
			} else if !mayDelete(t.meta.Name) {
				if mayDescribe(t.meta.Name) {
					name := t.meta.Name
					rr.Topic = &name
				}
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
