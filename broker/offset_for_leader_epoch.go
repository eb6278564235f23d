package broker

// OffsetForLeaderEpoch: versions 2-4 (Kafka 4 removed v0-v1, KIP-896). Consumers ask it
// after a leader change to check that the log they read was not truncated under them
// (KIP-320). For a partition this broker leads, CurrentLeaderEpoch is checked as Fetch
// checks it (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH), then the answer is the largest
// epoch <= LeaderEpoch in the partition's leader-epoch history and the offset where it
// ended: the next epoch's start, or the high watermark for the current epoch; an epoch
// older than the history gets itself and the oldest epoch's start; the undefined epoch -1
// and an epoch newer than the current one get -1 and -1 (partition/epochs.go, Kafka's
// LeaderEpochFileCache rules). ReplicaId is ignored, as Kafka ignores it (there are no
// followers). A partition led elsewhere gets NOT_LEADER_OR_FOLLOWER.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/partition"
)

func init() { register(kmsg.OffsetForLeaderEpoch, 2, 4, (*Broker).handleOffsetForLeaderEpoch) }

func (b *Broker) handleOffsetForLeaderEpoch(c *call) {
	req := c.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		ot := kmsg.NewOffsetForLeaderEpochResponseTopic()
		ot.Topic = rt.Topic
		t := b.topicByName(rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderEpoch, op.EndOffset = partition.UndefinedEpoch, partition.UndefinedEpochOffset
			if !c.may(acl.Topic, rt.Topic) {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) || t.parts[rp.Partition] == nil {
				op.ErrorCode = notServedCode(t, rp.Partition, kerr.UnknownTopicOrPartition.Code)
			} else {
				epoch, end, err := t.parts[rp.Partition].log.EndOffsetForEpoch(rp.CurrentLeaderEpoch, rp.LeaderEpoch)
				if err != nil {
					op.ErrorCode = errCode(err)
				} else {
					op.LeaderEpoch, op.EndOffset = epoch, end
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	c.respond(resp)
}
