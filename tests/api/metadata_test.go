package api

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataReq returns a Metadata request at version for the named topics (nil: all).
func metadataReq(version int16, allowAuto bool, names ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	req.AllowAutoTopicCreation = allowAuto
	if names != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func topicNames(resp *kmsg.MetadataResponse) []string {
	var out []string
	for _, mt := range resp.Topics {
		if mt.Topic != nil {
			out = append(out, *mt.Topic)
		}
	}
	return out
}

func TestMetadata(t *testing.T) {
	b := startBroker(t, "--num-partitions", "3")
	ctx := testContext(t)
	setup := dial(ctx, t, b.Addr)
	existing := topicName(t)
	existingID := createTopic(t, setup, existing, 2, nil)

	// Null topics ask for every topic; from v1 an empty list asks for none (v0 has no
	// null, and its empty list means all).
	for v := int16(0); v <= 12; v++ {
		t.Run(fmt.Sprintf("v%d all topics vs none", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			all := metadataReq(v, false)
			if v == 0 {
				all.Topics = []kmsg.MetadataRequestTopic{}
			}
			resp := c.do(all).(*kmsg.MetadataResponse)
			if !slices.Contains(topicNames(resp), existing) {
				t.Fatalf("Metadata v%d for all topics lists %v, want %s among them", v, topicNames(resp), existing)
			}
			if v == 0 {
				return
			}
			resp = c.do(metadataReq(v, false, []string{}...)).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 0 {
				t.Fatalf("Metadata v%d for an empty topic list lists %v, want none", v, topicNames(resp))
			}
			if len(resp.Brokers) != 1 {
				t.Fatalf("Metadata v%d lists %d brokers, want 1", v, len(resp.Brokers))
			}
		})
	}

	t.Run("auto-creation when AllowAutoTopicCreation is true", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{4, 9, 12} {
			name := topicName(t)
			resp := c.do(metadataReq(v, true, name)).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("Metadata v%d answers %d topics for one", v, len(resp.Topics))
			}
			// Kafka may answer LEADER_NOT_AVAILABLE while the topic is being created.
			if code := resp.Topics[0].ErrorCode; code != 0 && code != kerr.LeaderNotAvailable.Code {
				t.Fatalf("Metadata v%d auto-creating %s: %s", v, name, errName(code))
			}
			mt := metadataTopic(t, c, name)
			wantCode(t, "Metadata of the auto-created topic", mt.ErrorCode, nil)
			if len(mt.Partitions) != 3 {
				t.Fatalf("auto-created topic has %d partitions, want num.partitions=3", len(mt.Partitions))
			}
		}
	})

	t.Run("versions before 4 always auto-create", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{1, 2, 3} {
			name := topicName(t)
			c.do(metadataReq(v, false, name))
			mt := metadataTopic(t, c, name)
			wantCode(t, fmt.Sprintf("Metadata of a topic a v%d request auto-created", v), mt.ErrorCode, nil)
		}
	})

	t.Run("no auto-creation when AllowAutoTopicCreation is false", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		for _, v := range []int16{4, 12} {
			resp := c.do(metadataReq(v, false, name)).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("Metadata v%d answers %d topics for one", v, len(resp.Topics))
			}
			wantCode(t, fmt.Sprintf("Metadata v%d of an absent topic", v), resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
		}
		resp := c.do(metadataReq(12, false)).(*kmsg.MetadataResponse)
		if slices.Contains(topicNames(resp), name) {
			t.Fatalf("topic %s exists after Metadata requests that forbade auto-creation", name)
		}
	})

	t.Run("invalid name is INVALID_TOPIC_EXCEPTION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, name := range []string{"a/b", "..", "has space"} {
			resp := c.do(metadataReq(12, true, name)).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("Metadata answers %d topics for one", len(resp.Topics))
			}
			wantCode(t, fmt.Sprintf("Metadata of %q", name), resp.Topics[0].ErrorCode, kerr.InvalidTopicException)
		}
	})

	t.Run("lookup by topic id", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = existingID
		req.Topics = append(req.Topics, rt)
		resp := c.do(req).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 {
			t.Fatalf("Metadata by id answers %d topics", len(resp.Topics))
		}
		mt := resp.Topics[0]
		wantCode(t, "Metadata by topic id", mt.ErrorCode, nil)
		if mt.Topic == nil || *mt.Topic != existing || mt.TopicID != existingID || len(mt.Partitions) != 2 {
			t.Fatalf("Metadata by id answers topic %v id %x with %d partitions, want %s %x with 2", mt.Topic, mt.TopicID, len(mt.Partitions), existing, existingID)
		}
	})

	t.Run("unknown topic id is UNKNOWN_TOPIC_ID", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		req.Topics = append(req.Topics, rt)
		resp := c.do(req).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 {
			t.Fatalf("Metadata by id answers %d topics", len(resp.Topics))
		}
		wantCode(t, "Metadata of an unknown topic id", resp.Topics[0].ErrorCode, kerr.UnknownTopicID)
	})

	t.Run("topic id matches CreateTopics", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{10, 12} {
			resp := c.do(metadataReq(v, false, existing)).(*kmsg.MetadataResponse)
			if got := resp.Topics[0].TopicID; got != existingID {
				t.Fatalf("Metadata v%d topic id %x, want %x", v, got, existingID)
			}
		}
	})

	// v7+ carries each partition's leader epoch; it agrees with ListOffsets v4+.
	t.Run("leader epoch present from v7", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		lo := listOffset(t, c, 4, existing, 1, -1)
		wantCode(t, "ListOffsets", lo.ErrorCode, nil)
		for _, v := range []int16{7, 9, 12} {
			resp := c.do(metadataReq(v, false, existing)).(*kmsg.MetadataResponse)
			for _, p := range resp.Topics[0].Partitions {
				wantCode(t, fmt.Sprintf("Metadata v%d partition %d", v, p.Partition), p.ErrorCode, nil)
				if p.LeaderEpoch < 0 {
					t.Fatalf("Metadata v%d partition %d has leader epoch %d", v, p.Partition, p.LeaderEpoch)
				}
				if p.Partition == 1 && p.LeaderEpoch != lo.LeaderEpoch {
					t.Fatalf("Metadata v%d leader epoch %d, ListOffsets says %d", v, p.LeaderEpoch, lo.LeaderEpoch)
				}
				if p.Leader != resp.Brokers[0].NodeID || !slices.Equal(p.Replicas, []int32{p.Leader}) || !slices.Equal(p.ISR, []int32{p.Leader}) {
					t.Fatalf("Metadata v%d partition %d leader %d replicas %v isr %v, want this broker everywhere", v, p.Partition, p.Leader, p.Replicas, p.ISR)
				}
			}
		}
	})

	t.Run("cluster id present from v2", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		var first string
		for _, v := range []int16{2, 7, 12} {
			resp := c.do(metadataReq(v, false, existing)).(*kmsg.MetadataResponse)
			if resp.ClusterID == nil || *resp.ClusterID == "" {
				t.Fatalf("Metadata v%d has no cluster id", v)
			}
			if first == "" {
				first = *resp.ClusterID
			} else if *resp.ClusterID != first {
				t.Fatalf("Metadata v%d cluster id %q, earlier %q", v, *resp.ClusterID, first)
			}
		}
	})
}

// With auto.create.topics.enable=false no Metadata request creates a topic.
func TestMetadataAutoCreateDisabled(t *testing.T) {
	b := startBroker(t, "--auto-create-topics=false")
	ctx := testContext(t)
	for _, v := range []int16{1, 3, 4, 9, 12} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			name := topicName(t)
			resp := c.do(metadataReq(v, true, name)).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("Metadata v%d answers %d topics for one", v, len(resp.Topics))
			}
			wantCode(t, fmt.Sprintf("Metadata v%d of an absent topic", v), resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
			all := c.do(metadataReq(12, false)).(*kmsg.MetadataResponse)
			if slices.Contains(topicNames(all), name) {
				t.Fatalf("topic %s created although auto-creation is off", name)
			}
		})
	}
}
