package broker

// Metadata: versions 0-12. Every live broker of the cluster is listed with its advertised
// listener, and every partition with its assigned leader and leader epoch (cluster.go);
// replicas and ISR are the leader alone, since durability comes from the object store, not
// from replication. A partition whose leader is not live (failover under way) answers
// LEADER_NOT_AVAILABLE with leader -1, as Kafka does. Topics
// are looked up by name, or by topic id from v10. A missing topic is auto-created when the
// request allows it (always before v4, AllowAutoTopicCreation from v4) and
// auto.create.topics.enable is set; an invalid name gets INVALID_TOPIC_EXCEPTION. With
// --authorizer a topic needs DESCRIBE (a listing leaves out the others, a named one gets
// TOPIC_AUTHORIZATION_FAILED) and auto-creation CREATE. The authorized-operations fields,
// when asked for (v8+), hold what the principal may do (KIP-430).

import (
	"time"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Metadata, 0, 12, (*Broker).handleMetadata) }

func (b *Broker) handleMetadata(c *call) {
	req := c.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	brokers, controller := b.clusterBrokers()
	ln := listenerOf(c)
	for _, br := range brokers {
		host, port := endpointOf(br, ln)
		resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: br.Id, Host: host, Port: port, Rack: nilIfEmpty(br.Rack)})
	}
	resp.ClusterID = &b.clusterID
	resp.ControllerID = controller
	lv := b.leaderView()

	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		b.mu.RLock()
		all := make([]*topic, 0, len(b.topics))
		for _, t := range b.topics {
			all = append(all, t)
		}
		b.mu.RUnlock()
		for _, t := range all {
			// Topics the principal may not describe are left out, as Kafka does.
			if c.allows(acl.Describe, acl.Topic, t.meta.Name) {
				resp.Topics = append(resp.Topics, b.metadataTopic(t, lv))
			}
		}
		b.respondMetadata(c, req, resp)
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
		if (t != nil && !c.may(acl.Topic, t.meta.Name)) || (t == nil && name != "" && !c.may(acl.Topic, name)) ||
			(t == nil && name != "" && autoCreate && !c.mayCreateTopic(name)) {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if t == nil && name != "" && autoCreate && validTopicName(name) == nil {
			ctx, cancel := b.requestContext(30 * time.Second)
			_, err := b.createTopic(ctx, name, b.cfg.DefaultPartitions, nil)
			cancel()
			if err != nil && errCodeOf(err) != kerr.TopicAlreadyExists.Code {
				// Metadata has no error message: the log is the only place that says why.
				if !b.shuttingDown() {
					b.log.Warn("cannot auto-create topic", "topic", name, "err", err)
				}
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
		resp.Topics = append(resp.Topics, b.metadataTopic(t, lv))
	}
	b.respondMetadata(c, req, resp)
}

// respondMetadata fills the authorized-operations fields a request asks for (KIP-430: the
// operations the principal may perform, every supported one without an authorizer) and
// answers.
func (b *Broker) respondMetadata(c *call, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if req.Version >= 8 && req.IncludeTopicAuthorizedOperations {
		for i := range resp.Topics {
			if t := &resp.Topics[i]; t.ErrorCode == 0 && t.Topic != nil {
				t.AuthorizedOperations = c.authorizedOps(acl.Topic, *t.Topic, topicOperations)
			}
		}
	}
	if req.Version >= 8 && req.Version <= 10 && req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = c.authorizedOps(acl.Cluster, acl.ClusterName, clusterOperations)
	}
	c.respond(resp)
}

// leaderView is every partition's assigned leader and every live broker, from one cluster
// state, for partitions this broker does not lead (partitionLeader).
type leaderView struct {
	leaders map[meta.PartitionKey]meta.LeaderRef
	brokers map[int32]*metapb.Broker // live brokers; read only (shared with b.view)
}

func (b *Broker) leaderView() leaderView {
	st := b.view.Load()
	if st == nil {
		return leaderView{}
	}
	return leaderView{leaders: st.Leaders(), brokers: st.Brokers}
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (b *Broker) metadataTopic(t *topic, lv leaderView) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.meta.Name
	mt.Topic = &name
	mt.TopicID = t.id
	for p := range t.parts {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(p)
		mp.Leader, mp.LeaderEpoch = b.partitionLeader(t, int32(p), lv)
		if mp.Leader >= 0 {
			mp.Replicas = []int32{mp.Leader}
			mp.ISR = []int32{mp.Leader}
		} else {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Replicas, mp.ISR = []int32{}, []int32{}
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
