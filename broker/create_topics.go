package broker

// CreateTopics: versions 2-7 (KIP-896 baseline). Names follow Kafka's rules
// (INVALID_TOPIC_EXCEPTION), the partition count must be 1..max or -1 for num.partitions
// (INVALID_PARTITIONS), configs must be known topic configs with valid values
// (INVALID_CONFIG), validate_only checks without creating (and answers a topic id all the
// same, as Kafka does); a name given twice is INVALID_REQUEST, answered once as by Kafka.
// Partitions past the broker's --max-partitions answer POLICY_VIOLATION, as Kafka does for
// its partition limit. Any replication factor >= 1 or -1 is accepted: durability comes from
// the object store, and tools such as Kafka Connect ask for 3. Manual replica assignments
// fix only the partition count.

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/meta"
)

func init() { register(kmsg.CreateTopics, 2, 7, (*Broker).handleCreateTopics) }

func (b *Broker) handleCreateTopics(c *call) {
	req := c.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	timeout := time.Duration(max(req.TimeoutMillis, 1000)) * time.Millisecond
	ctx, cancel := b.requestContext(timeout)
	defer cancel()
	seen := make(map[string]int)
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	answered := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if answered[rt.Topic] {
			continue // a name given twice gets one answer, as from Kafka (tests/oracle)
		}
		answered[rt.Topic] = true
		rr := kmsg.NewCreateTopicsResponseTopic()
		rr.Topic = rt.Topic
		rr.NumPartitions = -1
		rr.ReplicationFactor = -1
		var err error
		if !c.mayCreateTopic(rt.Topic) {
			err = newKafkaError(kerr.TopicAuthorizationFailed, "Authorization failed.")
		} else {
			err = b.createOne(ctx, req, rt, seen[rt.Topic] > 1, &rr)
		}
		if err != nil {
			rr.ErrorCode = errCodeOf(err)
			rr.ErrorMessage = errMessage(err)
		} else if !req.ValidateOnly {
			c.adminAction("topic created", "topic", rt.Topic, "partitions", rr.NumPartitions)
		}
		resp.Topics = append(resp.Topics, rr)
	}
	c.respond(resp)
}

func (b *Broker) createOne(ctx context.Context, req *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, dup bool, rr *kmsg.CreateTopicsResponseTopic) error {
	if dup {
		return newKafkaError(kerr.InvalidRequest, "topic %s appears more than once in the request", rt.Topic)
	}
	partitions := rt.NumPartitions
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 || rt.ReplicationFactor != -1 {
			return newKafkaError(kerr.InvalidRequest, "a replica assignment excludes numPartitions and replicationFactor")
		}
		partitions = int32(len(rt.ReplicaAssignment))
	}
	if partitions == -1 {
		partitions = b.cfg.DefaultPartitions
	}
	if rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1 {
		return newKafkaError(kerr.InvalidReplicationFactor, "replication factor %d must be >= 1 or -1", rt.ReplicationFactor)
	}
	configs := make(map[string]string, len(rt.Configs))
	for _, cfg := range rt.Configs {
		if cfg.Value == nil {
			return newKafkaError(kerr.InvalidConfig, "null value not supported for topic config %s", cfg.Name)
		}
		configs[cfg.Name] = *cfg.Value
	}
	if err := b.checkNewTopic(rt.Topic, partitions, configs); err != nil {
		return err
	}
	// Configs without effect here are accepted but not stored (topicConfigEffects).
	configs, ignored := effectiveConfigs(configs)
	if len(ignored) > 0 && !req.ValidateOnly {
		b.log.Info("topic configs without effect in KafScale are not stored", "topic", rt.Topic, "configs", ignored)
	}
	if b.topicByName(rt.Topic) != nil {
		return newKafkaError(kerr.TopicAlreadyExists, "topic %s already exists", rt.Topic)
	}
	if req.ValidateOnly {
		release, err := b.reservePartitions(partitions)
		if err != nil {
			return err
		}
		release()
		// Kafka's controller draws the id before it validates and answers it (tests/oracle).
		rr.TopicID = meta.NewTopicID()
	} else {
		t, err := b.createTopic(ctx, rt.Topic, partitions, configs)
		if err != nil {
			return err
		}
		rr.TopicID = t.id
	}
	rr.NumPartitions = partitions
	rr.ReplicationFactor = 1
	for _, name := range sortedConfigNames() {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name = name
		v, set := configs[name]
		if !set {
			v = topicConfigs[name].def
			rc.Source = int8(kmsg.ConfigSourceDefaultConfig)
		} else {
			rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		}
		if name == "max.message.bytes" && !set {
			v = strconv.Itoa(int(b.cfg.MessageMaxBytes))
		}
		rc.Value = &v
		rr.Configs = append(rr.Configs, rc)
	}
	return nil
}
