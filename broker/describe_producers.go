package broker

// DescribeProducers: version 0. Lists the idempotent producers a partition keeps state for:
// id, epoch, last sequence and last timestamp (no transactions, so coordinator epoch -1 and
// no transaction start offset).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DescribeProducers, 0, 0, (*Broker).handleDescribeProducers) }

func (b *Broker) handleDescribeProducers(c *call) {
	req := c.kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		ot := kmsg.NewDescribeProducersResponseTopic()
		ot.Topic = rt.Topic
		t := b.topicByName(rt.Topic)
		for _, p := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = p
			if !c.may(acl.Topic, rt.Topic) {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			if t == nil || p < 0 || int(p) >= len(t.parts) || t.parts[p] == nil {
				op.ErrorCode = notServedCode(t, p, kerr.UnknownTopicOrPartition.Code)
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			for _, e := range t.parts[p].log.Producers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID = e.ProducerID
				ap.ProducerEpoch = int32(e.Epoch)
				ap.LastSequence = e.LastSeq()
				ap.LastTimestamp = e.LastTimestamp
				ap.CoordinatorEpoch = -1
				ap.CurrentTxnStartOffset = -1
				op.ActiveProducers = append(op.ActiveProducers, ap)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	c.respond(resp)
}
