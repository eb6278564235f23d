package broker

// ElectLeaders: versions 0-2 (kafka-leader-election). A Kafka partition needs a preferred
// election when its leader is not its first replica, and an unclean one when it has no
// leader. A KafScale partition has one replica, its leader, so a partition with a live
// leader needs neither: ELECTION_NOT_NEEDED, as a Kafka controller answers
// (ReplicationControlManager.electLeader). One whose leader is not live (failover under
// way, which the controller finishes on its own) cannot be elected by request:
// PREFERRED_LEADER_NOT_AVAILABLE for a preferred election, ELIGIBLE_LEADERS_NOT_AVAILABLE
// for an unclean one, as Kafka answers when no replica can lead. Unknown topics and
// partitions are UNKNOWN_TOPIC_OR_PARTITION. A null topic list asks for every partition,
// and then, as in Kafka, every topic is listed with only the partitions that did not answer
// ELECTION_NOT_NEEDED. An election type other than preferred (0) or unclean (1) is
// INVALID_REQUEST for the request (v1+) and every partition named.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.ElectLeaders, 0, 2, (*Broker).handleElectLeaders) }

// Election types.
const (
	electPreferred = 0
	electUnclean   = 1
)

func (b *Broker) handleElectLeaders(c *call) {
	req := c.kreq.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	if req.ElectionType != electPreferred && req.ElectionType != electUnclean {
		err := newKafkaError(kerr.InvalidRequest, "Unknown election type %d", req.ElectionType)
		resp.ErrorCode = errCodeOf(err)
		for _, rt := range req.Topics {
			et := kmsg.NewElectLeadersResponseTopic()
			et.Topic = rt.Topic
			for _, p := range rt.Partitions {
				et.Partitions = append(et.Partitions, electResult(p, err))
			}
			resp.Topics = append(resp.Topics, et)
		}
		c.respond(resp)
		return
	}
	if !c.may(acl.Cluster, acl.ClusterName) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	lv := b.leaderView()
	if req.Topics == nil {
		b.mu.RLock()
		topics := make([]*topic, 0, len(b.topics))
		for _, t := range b.topics {
			topics = append(topics, t)
		}
		b.mu.RUnlock()
		slices.SortFunc(topics, func(x, y *topic) int { return cmp.Compare(x.meta.Name, y.meta.Name) })
		for _, t := range topics {
			et := kmsg.NewElectLeadersResponseTopic()
			et.Topic = t.meta.Name
			for p := range t.parts {
				if err := b.elect(t, t.meta.Name, int32(p), req.ElectionType, lv); errCodeOf(err) != kerr.ElectionNotNeeded.Code {
					et.Partitions = append(et.Partitions, electResult(int32(p), err))
				}
			}
			resp.Topics = append(resp.Topics, et)
		}
		c.respond(resp)
		return
	}
	for _, rt := range req.Topics {
		et := kmsg.NewElectLeadersResponseTopic()
		et.Topic = rt.Topic
		t := b.topicByName(rt.Topic)
		for _, p := range rt.Partitions {
			et.Partitions = append(et.Partitions, electResult(p, b.elect(t, rt.Topic, p, req.ElectionType, lv)))
		}
		resp.Topics = append(resp.Topics, et)
	}
	c.respond(resp)
}

// elect answers an election of partition p of topic t (named name; nil if unknown).
func (b *Broker) elect(t *topic, name string, p int32, typ int8, lv leaderView) error {
	switch {
	case t == nil:
		return newKafkaError(kerr.UnknownTopicOrPartition, "No such topic as %s", name)
	case p < 0 || int(p) >= len(t.parts):
		return newKafkaError(kerr.UnknownTopicOrPartition, "No such partition as %s-%d", name, p)
	}
	if leader, _ := b.partitionLeader(t, p, lv); leader >= 0 {
		return newKafkaError(kerr.ElectionNotNeeded, "Leader election not needed for topic partition.")
	}
	if typ == electUnclean {
		return newKafkaError(kerr.EligibleLeadersNotAvailable, "partition %s-%d has no live leader; its failover is under way", name, p)
	}
	return newKafkaError(kerr.PreferredLeaderNotAvailable, "partition %s-%d has no live leader; its failover is under way", name, p)
}

// electResult is one partition's answer.
func electResult(p int32, err error) kmsg.ElectLeadersResponseTopicPartition {
	r := kmsg.NewElectLeadersResponseTopicPartition()
	r.Partition = p
	r.ErrorCode, r.ErrorMessage = errCodeOf(err), errText(err)
	return r
}
