// Package durability tests the durability contract against a real `kafscale dev` process:
// records acknowledged with acks=all survive SIGTERM and kill -9 at their offsets.
package durability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
)

// newProducer returns a franz-go producer with acks=all. Idempotence is off until the
// idempotent-producer issue lands (the broker answers InitProducerId with
// CLUSTER_AUTHORIZATION_FAILED).
func newProducer(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RecordDeliveryTimeout(60 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("cannot create producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with the given partition count.
func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("cannot create topic %s: %v", topic, err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("cannot create topic %s: error code %d", topic, code)
	}
}

// endOffsets returns the high watermark of each partition.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return nil, fmt.Errorf("list offsets of %s-%d: error code %d", topic, p.Partition, p.ErrorCode)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

// readAll consumes every partition from offset 0 up to its current high watermark.
func readAll(t *testing.T, addr, topic string, partitions int32) []ackcheck.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := endOffsets(ctx, cl, topic, partitions)
	if err != nil {
		t.Fatalf("cannot list end offsets: %v", err)
	}
	offsets := make(map[int32]kgo.Offset)
	remaining := 0
	for p, end := range ends {
		if end > 0 {
			offsets[p] = kgo.NewOffset().AtStart()
			remaining++
		}
	}
	var out []ackcheck.Record
	if remaining == 0 {
		return out
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	next := make(map[int32]int64)
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading %s back: next offsets %v, ends %v", topic, next, ends)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch error on %s-%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			out = append(out, ackcheck.Record{Partition: ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, Offset: r.Offset, Value: r.Value})
			next[r.Partition] = r.Offset + 1
			if r.Offset+1 == ends[r.Partition] {
				remaining--
			}
		})
	}
	return out
}
