package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteByName deletes one topic by name at version (1-6) and returns its answer.
func deleteByName(t *testing.T, c *conn, version int16, name string) kmsg.DeleteTopicsResponseTopic {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = version
	req.TimeoutMillis = 30000
	if version >= 6 {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	} else {
		req.TopicNames = []string{name}
	}
	resp := c.do(req).(*kmsg.DeleteTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("DeleteTopics v%d answers %d topics for one", version, len(resp.Topics))
	}
	return resp.Topics[0]
}

// deleteByID deletes one topic by id (v6) and returns its answer.
func deleteByID(t *testing.T, c *conn, id [16]byte) kmsg.DeleteTopicsResponseTopic {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	req.TimeoutMillis = 30000
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.TopicID = id
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.DeleteTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("DeleteTopics v6 answers %d topics for one", len(resp.Topics))
	}
	return resp.Topics[0]
}

func TestDeleteTopics(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)

	for v := int16(1); v <= 6; v++ {
		t.Run(fmt.Sprintf("v%d by name", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			name := topicName(t)
			createTopic(t, c, name, 2, nil)
			rr := deleteByName(t, c, v, name)
			wantCode(t, fmt.Sprintf("DeleteTopics v%d", v), rr.ErrorCode, nil)
			if rr.Topic == nil || *rr.Topic != name {
				t.Fatalf("DeleteTopics v%d answers topic %v, want %s", v, rr.Topic, name)
			}
			wantAbsent(t, c, name)
		})
	}

	t.Run("v6 by topic id", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		id := createTopic(t, c, name, 1, nil)
		rr := deleteByID(t, c, id)
		wantCode(t, "DeleteTopics by id", rr.ErrorCode, nil)
		if rr.TopicID != id || rr.Topic == nil || *rr.Topic != name {
			t.Fatalf("DeleteTopics by id answers %v %x, want %s %x", rr.Topic, rr.TopicID, name, id)
		}
		wantAbsent(t, c, name)
	})

	t.Run("unknown name is UNKNOWN_TOPIC_OR_PARTITION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{1, 5, 6} {
			rr := deleteByName(t, c, v, topicName(t))
			wantCode(t, fmt.Sprintf("DeleteTopics v%d of an absent topic", v), rr.ErrorCode, kerr.UnknownTopicOrPartition)
		}
	})

	t.Run("unknown id is UNKNOWN_TOPIC_ID", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		rr := deleteByID(t, c, [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
		wantCode(t, "DeleteTopics of an unknown id", rr.ErrorCode, kerr.UnknownTopicID)
	})

	t.Run("deleted twice is UNKNOWN_TOPIC_OR_PARTITION the second time", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		wantCode(t, "first DeleteTopics", deleteByName(t, c, 6, name).ErrorCode, nil)
		wantCode(t, "second DeleteTopics", deleteByName(t, c, 6, name).ErrorCode, kerr.UnknownTopicOrPartition)
	})

	// A topic deleted and created again under the same name is a new topic: new id, empty,
	// offsets from 0, none of the old records visible.
	t.Run("recreated topic starts empty with a new id", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		oldID := createTopic(t, c, name, 2, nil)
		produceOK(t, c, name, 0, batchOf(5, 20))
		produceOK(t, c, name, 1, batchOf(3, 20))
		wantCode(t, "DeleteTopics", deleteByName(t, c, 6, name).ErrorCode, nil)

		newID := createTopic(t, c, name, 2, nil)
		if newID == oldID {
			t.Fatalf("recreated topic has the old id %x", oldID)
		}
		for p := int32(0); p < 2; p++ {
			if batches, hw := fetchAll(t, c, name, p); len(batches) != 0 || hw != 0 {
				t.Fatalf("recreated %s/%d holds %d batches, high watermark %d; want empty", name, p, len(batches), hw)
			}
			for _, ts := range []int64{-2, -1} {
				lo := listOffset(t, c, 7, name, p, ts)
				if lo.ErrorCode != 0 || lo.Offset != 0 {
					t.Fatalf("recreated %s/%d ListOffsets %d answers %s offset %d, want 0", name, p, ts, errName(lo.ErrorCode), lo.Offset)
				}
			}
		}
		fresh := makeBatch(0, rec{key: []byte("new"), value: []byte("only this"), ts: 1})
		if base := produceOK(t, c, name, 0, fresh); base != 0 {
			t.Fatalf("first produce to the recreated topic got base offset %d, want 0", base)
		}
		batches, hw := fetchAll(t, c, name, 0)
		if len(batches) != 1 || hw != 1 || batchBase(batches[0]) != 0 {
			t.Fatalf("recreated %s/0 holds %d batches, high watermark %d; want only the new record", name, len(batches), hw)
		}
	})
}
