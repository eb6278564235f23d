package api

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeTopicPartitions sends DescribeTopicPartitions v0 with a partition limit (0 keeps
// the schema's default, 2000), a cursor (nil for none) and the named topics (none for all).
func describeTopicPartitions(t *testing.T, c *conn, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) *kmsg.DescribeTopicPartitionsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.Version = 0
	if limit != 0 {
		req.ResponsePartitionLimit = limit
	}
	req.Cursor = cursor
	for _, n := range names {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = n
		req.Topics = append(req.Topics, rt)
	}
	return c.do(req).(*kmsg.DescribeTopicPartitionsResponse)
}

func dtpCursor(topic string, p int32) *kmsg.DescribeTopicPartitionsRequestCursor {
	return &kmsg.DescribeTopicPartitionsRequestCursor{Topic: topic, Partition: p}
}

// dtpPartitions lists the answer's topic/partition pairs in order.
func dtpPartitions(resp *kmsg.DescribeTopicPartitionsResponse) []string {
	var out []string
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out = append(out, fmt.Sprintf("%s/%d", *rt.Topic, p.Partition))
		}
	}
	return out
}

// TestDescribeTopicPartitions checks Kafka 4's paginated topic describe (KIP-966) against
// the answers of Kafka 4.4: partitions with leader, epoch and replicas/ISR of the leader,
// topics in name order, ResponsePartitionLimit and the cursor honoured, unknown and invalid
// names answered per topic, a bad cursor INVALID_REQUEST.
func TestDescribeTopicPartitions(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	base := topicName(t)
	ta, tb := base+"-a", base+"-b"
	idA := createTopic(t, c, ta, 3, nil)
	idB := createTopic(t, c, tb, 2, nil)

	t.Run("named topics with their partitions", func(t *testing.T) {
		resp := describeTopicPartitions(t, c, 0, nil, tb, ta)
		if resp.NextCursor != nil {
			t.Fatalf("NextCursor %+v for 5 partitions", resp.NextCursor)
		}
		if len(resp.Topics) != 2 || *resp.Topics[0].Topic != ta || *resp.Topics[1].Topic != tb {
			t.Fatalf("topics %v, want %s then %s", dtpPartitions(resp), ta, tb)
		}
		for i, id := range [][16]byte{idA, idB} {
			rt := resp.Topics[i]
			wantCode(t, "topic "+*rt.Topic, rt.ErrorCode, nil)
			if rt.TopicID != id || rt.IsInternal || rt.AuthorizedOperations != 3576 {
				t.Errorf("topic %s id %x internal %t operations %d; want id %x, not internal, 3576 (every topic operation)", *rt.Topic, rt.TopicID, rt.IsInternal, rt.AuthorizedOperations, id)
			}
			mt := metadataTopic(t, c, *rt.Topic)
			if len(rt.Partitions) != len(mt.Partitions) {
				t.Fatalf("topic %s: %d partitions, Metadata %d", *rt.Topic, len(rt.Partitions), len(mt.Partitions))
			}
			for j, p := range rt.Partitions {
				m := mt.Partitions[j]
				wantCode(t, fmt.Sprintf("%s/%d", *rt.Topic, p.Partition), p.ErrorCode, nil)
				if p.Partition != int32(j) || p.LeaderID != 0 || p.LeaderEpoch != m.LeaderEpoch ||
					!slices.Equal(p.Replicas, []int32{0}) || !slices.Equal(p.ISR, []int32{0}) ||
					len(p.EligibleLeaderReplicas) != 0 || len(p.LastKnownELR) != 0 || len(p.OfflineReplicas) != 0 {
					t.Errorf("%s/%d: %+v; want leader 0 epoch %d, replicas and ISR [0], no ELR or offline replicas", *rt.Topic, j, p, m.LeaderEpoch)
				}
			}
		}
	})

	t.Run("unknown topic is UNKNOWN_TOPIC_OR_PARTITION, invalid name INVALID_TOPIC_EXCEPTION", func(t *testing.T) {
		unknown := topicName(t)
		resp := describeTopicPartitions(t, c, 0, nil, unknown, "a/b", ta)
		codes := make(map[string]int16)
		for _, rt := range resp.Topics {
			codes[*rt.Topic] = rt.ErrorCode
			if rt.ErrorCode != 0 && (len(rt.Partitions) != 0 || rt.TopicID != [16]byte{}) {
				t.Errorf("topic %s with an error lists %d partitions, id %x", *rt.Topic, len(rt.Partitions), rt.TopicID)
			}
		}
		wantCode(t, "unknown topic", codes[unknown], kerr.UnknownTopicOrPartition)
		wantCode(t, "topic a/b", codes["a/b"], kerr.InvalidTopicException)
		wantCode(t, "existing topic", codes[ta], nil)
		if len(resp.Topics) != 3 {
			t.Fatalf("%d topics for 3 named", len(resp.Topics))
		}
	})

	t.Run("limit and cursor page through named topics", func(t *testing.T) {
		var got []string
		var cursor *kmsg.DescribeTopicPartitionsRequestCursor
		for range 10 {
			resp := describeTopicPartitions(t, c, 2, cursor, ta, tb)
			page := dtpPartitions(resp)
			if len(page) > 2 {
				t.Fatalf("a page with limit 2 lists %v", page)
			}
			got = append(got, page...)
			if resp.NextCursor == nil {
				break
			}
			cursor = dtpCursor(resp.NextCursor.Topic, resp.NextCursor.Partition)
		}
		want := []string{ta + "/0", ta + "/1", ta + "/2", tb + "/0", tb + "/1"}
		if !slices.Equal(got, want) {
			t.Fatalf("pages list %v, want %v", got, want)
		}
		// The first page stops inside the first topic with a cursor on partition 2.
		resp := describeTopicPartitions(t, c, 2, nil, ta, tb)
		if nc := resp.NextCursor; nc == nil || nc.Topic != ta || nc.Partition != 2 {
			t.Fatalf("first page's NextCursor %+v, want %s/2", nc, ta)
		}
		// A limit that ends exactly at a topic's end points the cursor at the next topic.
		resp = describeTopicPartitions(t, c, 3, nil, ta, tb)
		if nc := resp.NextCursor; nc == nil || nc.Topic != tb || nc.Partition != 0 {
			t.Fatalf("NextCursor after 3 partitions %+v, want %s/0", nc, tb)
		}
	})

	t.Run("no topics named lists every topic", func(t *testing.T) {
		var got []string
		var cursor *kmsg.DescribeTopicPartitionsRequestCursor
		for range 100 {
			resp := describeTopicPartitions(t, c, 1, cursor)
			got = append(got, dtpPartitions(resp)...)
			if resp.NextCursor == nil {
				break
			}
			cursor = dtpCursor(resp.NextCursor.Topic, resp.NextCursor.Partition)
		}
		for _, want := range []string{ta + "/0", ta + "/1", ta + "/2", tb + "/0", tb + "/1"} {
			if !slices.Contains(got, want) {
				t.Errorf("paging through every topic never lists %s: %v", want, got)
			}
		}
		if !slices.IsSorted(got) {
			t.Errorf("topics not in name order: %v", got)
		}
	})

	// A limit of 0 or below is raised to 1, as Kafka does.
	t.Run("limit below 1 answers one partition", func(t *testing.T) {
		for _, limit := range []int32{-5, math.MinInt32} {
			resp := describeTopicPartitions(t, c, limit, nil, ta)
			if got := dtpPartitions(resp); len(got) != 1 || resp.NextCursor == nil {
				t.Fatalf("limit %d lists %v, cursor %+v", limit, got, resp.NextCursor)
			}
		}
	})

	t.Run("bad cursor is INVALID_REQUEST", func(t *testing.T) {
		for _, cur := range []*kmsg.DescribeTopicPartitionsRequestCursor{dtpCursor("not-named", 0), dtpCursor(ta, -1)} {
			resp := describeTopicPartitions(t, c, 0, cur, ta, tb)
			if len(resp.Topics) != 2 {
				t.Fatalf("cursor %+v: %d topics for 2 named", cur, len(resp.Topics))
			}
			for _, rt := range resp.Topics {
				wantCode(t, fmt.Sprintf("cursor %+v, topic %s", cur, *rt.Topic), rt.ErrorCode, kerr.InvalidRequest)
			}
		}
	})
}
