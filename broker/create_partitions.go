package broker

// CreatePartitions: versions 0-3. The new count must exceed the current one
// (INVALID_PARTITIONS, also when another request grew the topic meanwhile); a topic named
// twice gets INVALID_REQUEST, as in Kafka; partitions past the broker's --max-partitions
// answer POLICY_VIOLATION; validate_only checks without changing anything.
// New partitions are taken over before the answer, so producers find them at once.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.CreatePartitions, 0, 3, (*Broker).handleCreatePartitions) }

func (b *Broker) handleCreatePartitions(c *call) {
	req := c.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := b.requestContext(time.Duration(max(req.TimeoutMillis, 1000)) * time.Millisecond)
	defer cancel()
	seen := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		rr := kmsg.NewCreatePartitionsResponseTopic()
		rr.Topic = rt.Topic
		var err error
		t := b.topicByName(rt.Topic)
		switch {
		case seen[rt.Topic] > 1:
			err = newKafkaError(kerr.InvalidRequest, "topic %s appears more than once in the request", rt.Topic)
		case !c.may(acl.Topic, rt.Topic):
			err = newKafkaError(kerr.TopicAuthorizationFailed, "Authorization failed.")
		case t == nil:
			err = newKafkaError(kerr.UnknownTopicOrPartition, "topic %s does not exist", rt.Topic)
		case rt.Count <= t.meta.Partitions:
			err = newKafkaError(kerr.InvalidPartitions, "topic %s has %d partitions; the new count %d must be larger", rt.Topic, t.meta.Partitions, rt.Count)
		case rt.Count > b.cfg.MaxPartitionsPerTopic:
			err = newKafkaError(kerr.InvalidPartitions, "partition count %d exceeds the maximum %d", rt.Count, b.cfg.MaxPartitionsPerTopic)
		case req.ValidateOnly:
			var release func()
			if release, err = b.reservePartitions(rt.Count - t.meta.Partitions); err == nil {
				release()
			}
		default:
			if err = b.addPartitions(ctx, rt.Topic, rt.Count); err == nil {
				c.adminAction("partitions added", "topic", rt.Topic, "partitions", rt.Count)
			}
		}
		if err != nil {
			rr.ErrorCode = errCodeOf(err)
			rr.ErrorMessage = errMessage(err)
		}
		resp.Topics = append(resp.Topics, rr)
	}
	c.respond(resp)
}
