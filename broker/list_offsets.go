package broker

// ListOffsets: versions 1-8. Timestamps: -2 earliest (log start), -1 latest (high
// watermark), -3 the record with the largest timestamp (KIP-734), -4 the local log start
// (the same as the log start here), and t >= 0 the first offset whose record timestamp is
// >= t (offset -1 when none). CurrentLeaderEpoch is checked (KIP-320); the leader epoch is
// returned from v4, -1 when -3 or t >= 0 finds no record, as in Kafka. read_committed sees
// the high watermark (no transactions yet).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.ListOffsets, 1, 8, (*Broker).handleListOffsets) }

func (b *Broker) handleListOffsets(c *call) {
	req := c.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	ctx, cancel := b.requestContext(30 * time.Second)
	defer cancel()
	for _, rt := range req.Topics {
		ot := kmsg.NewListOffsetsResponseTopic()
		ot.Topic = rt.Topic
		t := b.topicByName(rt.Topic)
		allowed := c.may(acl.Topic, rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition = rp.Partition
			op.Timestamp, op.Offset, op.LeaderEpoch = -1, -1, -1
			if !allowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) || t.parts[rp.Partition] == nil {
				op.ErrorCode = notServedCode(t, rp.Partition, kerr.UnknownTopicOrPartition.Code)
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			l := t.parts[rp.Partition].log
			if err := l.CheckEpoch(rp.CurrentLeaderEpoch); err != nil {
				op.ErrorCode = errCode(err)
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			logStart, hw, epoch := l.Offsets()
			op.LeaderEpoch = epoch
			var err error
			found := true
			switch rp.Timestamp {
			case -2, -4:
				op.Offset = logStart
			case -1:
				op.Offset = hw
			case -3:
				op.Offset, op.Timestamp, found, err = l.MaxTimestamp(ctx)
			default:
				if rp.Timestamp < 0 {
					op.ErrorCode = kerr.InvalidRequest.Code
					break
				}
				op.Offset, op.Timestamp, found, err = l.OffsetForTimestamp(ctx, rp.Timestamp)
			}
			if !found {
				op.LeaderEpoch = -1 // no record, no epoch: Kafka's answer (tests/oracle)
			}
			if err != nil {
				op.ErrorCode = errCode(err)
				op.Offset, op.Timestamp = -1, -1
				if !b.shuttingDown() {
					b.log.Warn("cannot list offsets", "topic", rt.Topic, "partition", rp.Partition, "timestamp", rp.Timestamp, "err", err)
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	c.respond(resp)
}
