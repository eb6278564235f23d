package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopic creates topic with the given partition count and replication factor 1. The
// broker gets 60 s, enough for a thousand partitions on a loaded machine; the client waits
// longer so that a slow broker's own timeout error is what the failure shows.
func CreateTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("cannot create a client for %s: %v", addr, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 60000
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("cannot create topic %s with %d partitions: %v", topic, partitions, err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("cannot create topic %s: the response holds %d topics, want 1", topic, len(resp.Topics))
	}
	if rt := resp.Topics[0]; rt.ErrorCode != 0 {
		msg := ""
		if rt.ErrorMessage != nil {
			msg = ": " + *rt.ErrorMessage
		}
		t.Fatalf("cannot create topic %s with %d partitions: %v%s", topic, partitions, kerr.ErrorForCode(rt.ErrorCode), msg)
	}
}

// EndOffsets returns the high watermark of each of the topic's first partitions partitions.
// A partition that answers with an error, or not at all, is an error.
func EndOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // -1: the high watermark
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("cannot list end offsets of %s: %w", topic, err)
	}
	out := make(map[int32]int64, partitions)
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				return nil, fmt.Errorf("cannot list end offset of %s-%d: %w", topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
			out[p.Partition] = p.Offset
		}
	}
	for p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("cannot list end offset of %s-%d: not in the response", topic, p)
		}
	}
	return out, nil
}
