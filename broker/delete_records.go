package broker

// DeleteRecords (21), versions 0-2: moves the log start of each named partition this broker
// leads to the given offset (-1: the high watermark), as Kafka's deleteRecords does (an
// offset below the log start changes nothing; one above the high watermark, or below -1,
// is OFFSET_OUT_OF_RANGE), writes the partitions' checkpoints so that the move survives a
// restart or a failover, and answers each partition's new low watermark. The records below
// it are no longer served (Fetch there answers OFFSET_OUT_OF_RANGE, ListOffsets earliest
// answers the new start); merging and GC delete their objects once no partition needs
// them (docs/object-lifecycle.md, "Deleting records"). Partitions led elsewhere answer
// NOT_LEADER_OR_FOLLOWER, unknown ones UNKNOWN_TOPIC_OR_PARTITION.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/partition"
)

func init() { register(kmsg.DeleteRecords, 0, 2, (*Broker).handleDeleteRecords) }

func (b *Broker) handleDeleteRecords(c *call) {
	req := c.kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	var logs []*partition.Log
	var done []string // topic-partition@log start, for the log line
	for _, rt := range req.Topics {
		ot := kmsg.NewDeleteRecordsResponseTopic()
		ot.Topic = rt.Topic
		t := b.topicByName(rt.Topic)
		allowed := c.may(acl.Topic, rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewDeleteRecordsResponseTopicPartition()
			op.Partition, op.LowWatermark = rp.Partition, -1
			if !allowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) || t.parts[rp.Partition] == nil {
				op.ErrorCode = notServedCode(t, rp.Partition, kerr.UnknownTopicOrPartition.Code)
			} else {
				l := t.parts[rp.Partition].log
				start, err := l.DeleteBefore(rp.Offset)
				if err != nil {
					op.ErrorCode = errCode(err)
				} else {
					op.LowWatermark = start
					logs = append(logs, l)
					done = append(done, fmt.Sprintf("%s-%d@%d", rt.Topic, rp.Partition, start))
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if len(logs) > 0 {
		timeout := time.Duration(max(req.TimeoutMillis, 1000)) * time.Millisecond
		ctx, cancel := b.requestContext(timeout)
		err := b.jobs.WriteCheckpoints(ctx, false)
		cancel()
		if err != nil {
			// Not durable yet: the next checkpoint writes it; the client may retry.
			for _, l := range logs {
				l.MarkDirty()
			}
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					if op := &resp.Topics[i].Partitions[j]; op.ErrorCode == 0 {
						op.ErrorCode, op.LowWatermark = errCode(err), -1
					}
				}
			}
			if !b.shuttingDown() {
				b.log.Warn("cannot write the checkpoints of DeleteRecords", "partitions", len(logs), "err", err)
			}
		} else {
			c.adminAction("records deleted: log start moved", "partitions", done)
		}
	}
	c.respond(resp)
}
