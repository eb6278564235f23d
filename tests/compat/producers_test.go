package compat

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// activeProducer is one producer a partition keeps idempotence state for.
type activeProducer = kmsg.DescribeProducersResponseTopicPartitionActiveProducer

// describeProducers returns, for each of the given partitions of topic, the producers the
// broker keeps idempotence state for, from a DescribeProducers request (API 61) sent
// through a franz-go client.
func describeProducers(t *testing.T, addr, topic string, partitions []int32) map[int32][]activeProducer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic = topic
	rt.Partitions = partitions
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil {
		t.Fatalf("cannot describe the producers of %s: %v", topic, err)
	}
	out := make(map[int32][]activeProducer)
	for _, ot := range resp.Topics {
		if ot.Topic != topic {
			t.Fatalf("DescribeProducers answers for topic %q, asked for %q", ot.Topic, topic)
		}
		for _, op := range ot.Partitions {
			if err := kerr.ErrorForCode(op.ErrorCode); err != nil {
				t.Fatalf("DescribeProducers %s partition %d: %v", topic, op.Partition, err)
			}
			out[op.Partition] = op.ActiveProducers
		}
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			t.Fatalf("DescribeProducers does not answer for %s partition %d", topic, p)
		}
	}
	return out
}

// checkIdempotentProducers fails t unless DescribeProducers shows, on each partition of
// counts, exactly one active producer with an id >= 0 and an epoch >= 0 whose last sequence
// is counts[p]-1: an idempotent producer numbered that partition's records from 0, and the
// broker took each sequence once. With oneProducer, every partition must show the same
// producer id (one client wrote them all). It returns the producer id of each partition.
func checkIdempotentProducers(t *testing.T, addr, topic string, counts map[int32]int64, oneProducer bool) map[int32]int64 {
	t.Helper()
	var parts []int32
	for p := range counts {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	ids := make(map[int32]int64)
	for p, aps := range describeProducers(t, addr, topic, parts) {
		if len(aps) != 1 {
			t.Errorf("partition %d: DescribeProducers lists %d producers, want 1 idempotent producer: %+v", p, len(aps), aps)
			continue
		}
		ap := aps[0]
		if ap.ProducerID < 0 || ap.ProducerEpoch < 0 {
			t.Errorf("partition %d: active producer id %d epoch %d, want both >= 0", p, ap.ProducerID, ap.ProducerEpoch)
		}
		if want := int32(counts[p] - 1); ap.LastSequence != want {
			t.Errorf("partition %d: producer %d last sequence %d, want %d after %d records", p, ap.ProducerID, ap.LastSequence, want, counts[p])
		}
		ids[p] = ap.ProducerID
	}
	if oneProducer && !t.Failed() {
		for p, id := range ids {
			if id != ids[parts[0]] {
				t.Errorf("partition %d shows producer %d, partition %d producer %d; one client produced to both", p, id, parts[0], ids[parts[0]])
			}
		}
	}
	return ids
}

// checkNoProducers fails t if DescribeProducers shows any producer on the partitions of
// counts: a producer without idempotence sends producer id -1, of which the broker keeps
// no state.
func checkNoProducers(t *testing.T, addr, topic string, counts map[int32]int64) {
	t.Helper()
	var parts []int32
	for p := range counts {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for p, aps := range describeProducers(t, addr, topic, parts) {
		if len(aps) != 0 {
			t.Errorf("partition %d: DescribeProducers lists %+v after a producer without idempotence", p, aps)
		}
	}
}
