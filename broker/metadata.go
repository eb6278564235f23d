package broker

// Metadata: versions 0-12. One broker (this one) leads every partition; replicas and ISR are
// that broker, since durability comes from the object store, not from replication. Topics
// are looked up by name, or by topic id from v10. A missing topic is auto-created when the
// request allows it (always before v4, AllowAutoTopicCreation from v4) and
// auto.create.topics.enable is set; an invalid name gets INVALID_TOPIC_EXCEPTION.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Metadata, 0, 12, (*Broker).handleMetadata) }

func (b *Broker) handleMetadata(c *call) {
	req := c.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: b.cfg.NodeID, Host: b.cfg.AdvertisedHost, Port: b.cfg.AdvertisedPort}}
	resp.ClusterID = &b.clusterID
	resp.ControllerID = b.cfg.NodeID

	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		b.mu.RLock()
		for _, t := range b.topics {
			resp.Topics = append(resp.Topics, b.metadataTopic(t))
		}
		b.mu.RUnlock()
		c.respond(resp)
		return
	}
	autoCreate := b.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topic
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
			t = b.topicByName(name)
		} else {
			t = b.topicByID(rt.TopicID)
		}
		if t == nil && name != "" && autoCreate && validTopicName(name) == nil {
			ctx, cancel := b.requestContext(30 * time.Second)
			_, err := b.createTopic(ctx, name, b.cfg.DefaultPartitions, nil)
			cancel()
			if err != nil && errCodeOf(err) != kerr.TopicAlreadyExists.Code {
				// Metadata has no error message: the log is the only place that says why.
				b.log.Warn("cannot auto-create topic", "topic", name, "err", err)
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = &name
				mt.ErrorCode = errCodeOf(err)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			t = b.topicByName(name)
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.TopicID = rt.TopicID
			if name != "" {
				mt.Topic = &name
				mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if validTopicName(name) != nil {
					mt.ErrorCode = kerr.InvalidTopicException.Code
				}
			} else {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(t))
	}
	c.respond(resp)
}

func (b *Broker) metadataTopic(t *topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.meta.Name
	mt.Topic = &name
	mt.TopicID = t.id
	for p, ps := range t.parts {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(p)
		mp.Leader = b.cfg.NodeID
		mp.Replicas = []int32{b.cfg.NodeID}
		mp.ISR = []int32{b.cfg.NodeID}
		if ps == nil || !ps.log.Leader() {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
		} else {
			_, _, epoch := ps.log.Offsets()
			mp.LeaderEpoch = epoch
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

func (b *Broker) topicByName(name string) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topics[name]
}

func (b *Broker) topicByID(id [16]byte) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.byID[id]
}
