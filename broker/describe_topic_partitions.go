package broker

// DescribeTopicPartitions: version 0 (KIP-966), the paginated topic describe that Kafka 4's
// admin client (kafka-topics --describe) uses instead of Metadata. Answered from the view
// Metadata answers from (metadata.go, cluster.go), as Kafka's
// DescribeTopicPartitionsRequestHandler does: the topics asked for, or every topic when
// none is named, in name order from the cursor's topic on and, in that topic, from the
// cursor's partition on, at most ResponsePartitionLimit partitions (clamped to 1-2000,
// Kafka's max.request.partition.size.limit); when the limit cuts the answer, NextCursor
// names the first partition left out. Each partition lists its leader and leader epoch;
// replicas and ISR are the leader alone, since durability comes from the object store, and
// eligible leader replicas are empty (no ELR without replication). A partition whose
// leader is not live (failover under way) has leader -1, its assigned broker as replica and
// offline replica, as Kafka lists a partition whose only replica is fenced. A named topic
// that does not exist is UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an invalid
// name); when listing every topic such topics are skipped. A cursor whose topic is not
// among those named, or whose partition is negative, is INVALID_REQUEST for every named
// topic. With --authorizer a named topic needs DESCRIBE (TOPIC_AUTHORIZATION_FAILED) and a
// listing leaves out the topics the principal may not describe; TopicAuthorizedOperations
// holds the topic operations the principal may perform (every one without an authorizer).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/meta"
)

func init() {
	register(kmsg.DescribeTopicPartitions, 0, 0, (*Broker).handleDescribeTopicPartitions)
}

// maxDescribePartitions bounds the partitions one DescribeTopicPartitions answer lists
// (Kafka's max.request.partition.size.limit default).
const maxDescribePartitions = 2000

func (b *Broker) handleDescribeTopicPartitions(c *call) {
	req := c.kreq.(*kmsg.DescribeTopicPartitionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	names, err := b.describeTopicNames(req)
	if err != nil {
		for _, rt := range req.Topics {
			et := kmsg.NewDescribeTopicPartitionsResponseTopic()
			et.Topic = kmsg.StringPtr(rt.Topic)
			et.ErrorCode = errCodeOf(err)
			resp.Topics = append(resp.Topics, et)
		}
		c.respond(resp)
		return
	}
	all := len(req.Topics) == 0
	lv := b.leaderView()
	remaining := int(max(min(maxDescribePartitions, req.ResponsePartitionLimit), 1))
	for _, name := range names {
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		rt.AuthorizedOperations = c.authorizedOps(acl.Topic, name, topicOperations)
		if all && !c.allows(acl.Describe, acl.Topic, name) {
			continue // a listing leaves out what the principal may not describe
		}
		if !all && !c.may(acl.Topic, name) {
			rt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		t := b.topicByName(name)
		if t == nil {
			if !all {
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if validTopicName(name) != nil {
					rt.ErrorCode = kerr.InvalidTopicException.Code
				}
				resp.Topics = append(resp.Topics, rt)
			}
			continue
		}
		rt.TopicID = t.id
		first := 0
		if req.Cursor != nil && req.Cursor.Topic == name {
			first = int(req.Cursor.Partition)
		}
		end := min(len(t.parts), first+remaining)
		for p := first; p < end; p++ {
			rt.Partitions = append(rt.Partitions, b.describePartition(t, int32(p), lv))
		}
		resp.Topics = append(resp.Topics, rt)
		if end < len(t.parts) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: int32(end)}
			break
		}
		remaining -= max(end-first, 0)
	}
	c.respond(resp)
}

// describeTopicNames returns the topics a request describes, sorted, from the cursor's
// topic on: those named, or every topic if none is.
func (b *Broker) describeTopicNames(req *kmsg.DescribeTopicPartitionsRequest) ([]string, error) {
	from := ""
	if req.Cursor != nil {
		from = req.Cursor.Topic
	}
	var names []string
	if len(req.Topics) == 0 {
		b.mu.RLock()
		for name := range b.topics {
			if name >= from {
				names = append(names, name)
			}
		}
		b.mu.RUnlock()
	} else {
		for _, rt := range req.Topics {
			if rt.Topic >= from && !slices.Contains(names, rt.Topic) {
				names = append(names, rt.Topic)
			}
		}
		if req.Cursor != nil && !slices.Contains(names, req.Cursor.Topic) {
			return nil, newKafkaError(kerr.InvalidRequest, "the topics named do not include the cursor's topic %s", req.Cursor.Topic)
		}
	}
	if req.Cursor != nil && req.Cursor.Partition < 0 {
		return nil, newKafkaError(kerr.InvalidRequest, "the cursor's partition %d is negative", req.Cursor.Partition)
	}
	slices.Sort(names)
	return names, nil
}

// describePartition is partition p of t as DescribeTopicPartitions lists it.
func (b *Broker) describePartition(t *topic, p int32, lv leaderView) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	dp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	dp.Partition = p
	dp.EligibleLeaderReplicas, dp.LastKnownELR = []int32{}, []int32{}
	dp.LeaderID, dp.LeaderEpoch = b.partitionLeader(t, p, lv)
	switch lr, ok := lv.leaders[meta.PartitionKey{TopicID: t.id, Partition: p}]; {
	case dp.LeaderID >= 0:
		dp.Replicas, dp.ISR = []int32{dp.LeaderID}, []int32{dp.LeaderID}
	case ok && lr.Broker >= 0:
		// Assigned to a broker that is not live, or not serving it yet.
		dp.LeaderEpoch = lr.Epoch
		dp.Replicas, dp.ISR = []int32{lr.Broker}, []int32{lr.Broker}
		if lv.brokers[lr.Broker] == nil && lr.Broker != b.cfg.NodeID {
			dp.OfflineReplicas = []int32{lr.Broker}
		}
	default:
		dp.Replicas, dp.ISR = []int32{}, []int32{}
	}
	return dp
}
