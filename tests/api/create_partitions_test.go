package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCreatePartitions(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)

	createPartitions := func(t *testing.T, c *conn, version int16, validateOnly bool, name string, count int32) kmsg.CreatePartitionsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version = version
		req.TimeoutMillis = 30000
		req.ValidateOnly = validateOnly
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, count
		req.Topics = append(req.Topics, rt)
		resp := c.do(req).(*kmsg.CreatePartitionsResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].Topic != name {
			t.Fatalf("CreatePartitions answers %+v for %s", resp.Topics, name)
		}
		return resp.Topics[0]
	}

	for v := int16(0); v <= 3; v++ {
		t.Run(fmt.Sprintf("v%d grow 2 to 5 then produce and fetch partition 4", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			name := topicName(t)
			createTopic(t, c, name, 2, nil)
			wantCode(t, "CreatePartitions 2 -> 5", createPartitions(t, c, v, false, name, 5).ErrorCode, nil)
			mt := metadataTopic(t, c, name)
			if len(mt.Partitions) != 5 {
				t.Fatalf("topic has %d partitions after growing to 5", len(mt.Partitions))
			}
			for _, p := range mt.Partitions {
				wantCode(t, fmt.Sprintf("Metadata partition %d", p.Partition), p.ErrorCode, nil)
			}
			batch := batchOf(2, 30)
			if base := produceOK(t, c, name, 4, batch); base != 0 {
				t.Fatalf("first produce to new partition 4 got base offset %d", base)
			}
			batches, hw := fetchAll(t, c, name, 4)
			if len(batches) != 1 || hw != 2 {
				t.Fatalf("partition 4 holds %d batches, high watermark %d; want 1, 2", len(batches), hw)
			}
		})
	}

	t.Run("shrinking or equal count is INVALID_PARTITIONS", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 3, nil)
		for _, n := range []int32{3, 2, 1, 0, -1} {
			wantCode(t, fmt.Sprintf("CreatePartitions 3 -> %d", n), createPartitions(t, c, 3, false, name, n).ErrorCode, kerr.InvalidPartitions)
		}
		if n := len(metadataTopic(t, c, name).Partitions); n != 3 {
			t.Fatalf("topic has %d partitions, want 3", n)
		}
	})

	t.Run("validate_only changes nothing", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 2, nil)
		wantCode(t, "CreatePartitions validate_only 2 -> 4", createPartitions(t, c, 3, true, name, 4).ErrorCode, nil)
		if n := len(metadataTopic(t, c, name).Partitions); n != 2 {
			t.Fatalf("topic has %d partitions after validate_only, want 2", n)
		}
		wantCode(t, "CreatePartitions validate_only 2 -> 1", createPartitions(t, c, 3, true, name, 1).ErrorCode, kerr.InvalidPartitions)
		wantCode(t, "Produce to partition 3", produce(t, c, name, 3, batchOf(1, 1)).ErrorCode, kerr.UnknownTopicOrPartition)
	})

	t.Run("unknown topic is UNKNOWN_TOPIC_OR_PARTITION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		wantCode(t, "CreatePartitions of an absent topic", createPartitions(t, c, 3, false, name, 4).ErrorCode, kerr.UnknownTopicOrPartition)
		wantAbsent(t, c, name)
	})
}
