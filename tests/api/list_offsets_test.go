package api

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestListOffsets(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	// Timestamps an hour ago, a second apart, so no retention or skew check interferes.
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000

	t.Run("earliest and latest", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for v := int16(1); v <= 8; v++ {
			for ts, want := range map[int64]int64{-2: 0, -1: 0} {
				p := listOffset(t, c, v, name, 0, ts)
				if p.ErrorCode != 0 || p.Offset != want {
					t.Fatalf("empty partition: ListOffsets v%d %d answers %s offset %d, want %d", v, ts, errName(p.ErrorCode), p.Offset, want)
				}
			}
		}
		produceOK(t, c, name, 0, batchOf(3, 5))
		produceOK(t, c, name, 0, batchOf(2, 5))
		for v := int16(1); v <= 8; v++ {
			for ts, want := range map[int64]int64{-2: 0, -1: 5} {
				p := listOffset(t, c, v, name, 0, ts)
				if p.ErrorCode != 0 || p.Offset != want {
					t.Fatalf("ListOffsets v%d %d answers %s offset %d, want %d", v, ts, errName(p.ErrorCode), p.Offset, want)
				}
			}
		}
	})

	// Records at base+1s .. base+5s in two batches: a timestamp finds the first offset
	// whose record timestamp is >= it, with that record's timestamp; after all records,
	// offset -1 and timestamp -1.
	t.Run("by timestamp", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, makeBatch(0, rec{nil, []byte("0"), base + 1000}, rec{nil, []byte("1"), base + 2000}, rec{nil, []byte("2"), base + 3000}))
		produceOK(t, c, name, 0, makeBatch(codecGzip, rec{nil, []byte("3"), base + 4000}, rec{nil, []byte("4"), base + 5000}))
		cases := []struct {
			ts, offset, found int64
		}{
			{0, 0, base + 1000},
			{base, 0, base + 1000},
			{base + 1000, 0, base + 1000},
			{base + 1001, 1, base + 2000},
			{base + 2500, 2, base + 3000},
			{base + 3000, 2, base + 3000},
			{base + 3001, 3, base + 4000},
			{base + 4500, 4, base + 5000},
			{base + 5000, 4, base + 5000},
			{base + 5001, -1, -1},
			{base + 100000, -1, -1},
		}
		for _, v := range []int16{1, 4, 8} {
			for _, tc := range cases {
				p := listOffset(t, c, v, name, 0, tc.ts)
				wantCode(t, fmt.Sprintf("ListOffsets v%d at base%+d", v, tc.ts-base), p.ErrorCode, nil)
				if p.Offset != tc.offset || p.Timestamp != tc.found {
					t.Errorf("ListOffsets v%d at base%+d answers offset %d timestamp base%+d, want offset %d timestamp base%+d", v, tc.ts-base, p.Offset, p.Timestamp-base, tc.offset, tc.found-base)
				}
			}
		}
	})

	// KIP-734: -3 answers the offset and timestamp of the record with the largest
	// timestamp, wherever it is.
	t.Run("max timestamp from v7", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		cases := []struct {
			name    string
			batches [][]byte
			offset  int64
		}{
			{"in the middle of the first batch", [][]byte{
				makeBatch(0, rec{nil, []byte("0"), base + 1000}, rec{nil, []byte("1"), base + 9000}, rec{nil, []byte("2"), base + 2000}),
				makeBatch(0, rec{nil, []byte("3"), base + 3000}, rec{nil, []byte("4"), base + 4000}),
			}, 1},
			{"in the middle of a later compressed batch", [][]byte{
				makeBatch(0, rec{nil, []byte("0"), base + 1000}),
				makeBatch(codecGzip, rec{nil, []byte("1"), base + 2000}, rec{nil, []byte("2"), base + 8000}, rec{nil, []byte("3"), base + 3000}),
				makeBatch(0, rec{nil, []byte("4"), base + 4000}),
			}, 2},
			{"the last record", [][]byte{
				makeBatch(0, rec{nil, []byte("0"), base + 1000}, rec{nil, []byte("1"), base + 7000}),
			}, 1},
			{"a tie answers the earliest offset", [][]byte{
				makeBatch(0, rec{nil, []byte("0"), base + 1000}, rec{nil, []byte("1"), base + 6000}, rec{nil, []byte("2"), base + 2000}),
				makeBatch(0, rec{nil, []byte("3"), base + 6000}),
			}, 1},
		}
		for _, tc := range cases {
			name := topicName(t)
			createTopic(t, c, name, 1, nil)
			var maxTS int64
			for _, bt := range tc.batches {
				produceOK(t, c, name, 0, bt)
			}
			for _, bt := range tc.batches {
				for _, r := range splitBatches(t, bt) {
					maxTS = max(maxTS, int64(binary.BigEndian.Uint64(r[35:43])))
				}
			}
			for _, v := range []int16{7, 8} {
				p := listOffset(t, c, v, name, 0, -3)
				wantCode(t, fmt.Sprintf("ListOffsets v%d max timestamp (%s)", v, tc.name), p.ErrorCode, nil)
				if p.Offset != tc.offset || p.Timestamp != maxTS {
					t.Errorf("ListOffsets v%d max timestamp (%s) answers offset %d timestamp base%+d, want offset %d timestamp base%+d", v, tc.name, p.Offset, p.Timestamp-base, tc.offset, maxTS-base)
				}
			}
		}
	})

	t.Run("max timestamp of an empty partition is offset -1", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		p := listOffset(t, c, 8, name, 0, -3)
		if p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 {
			t.Fatalf("ListOffsets -3 of an empty partition answers %s offset %d timestamp %d, want offset -1 timestamp -1", errName(p.ErrorCode), p.Offset, p.Timestamp)
		}
	})

	t.Run("leader epoch from v4", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, makeBatch(0, rec{nil, []byte("0"), base + 1000}))
		epoch := leaderEpoch(t, c, name, 0)
		for _, v := range []int16{4, 6, 8} {
			for _, ts := range []int64{-2, -1, base, -3} {
				if ts == -3 && v < 7 {
					continue
				}
				p := listOffset(t, c, v, name, 0, ts)
				wantCode(t, fmt.Sprintf("ListOffsets v%d %d", v, ts), p.ErrorCode, nil)
				if p.LeaderEpoch != epoch {
					t.Errorf("ListOffsets v%d %d answers leader epoch %d, want %d", v, ts, p.LeaderEpoch, epoch)
				}
			}
		}
	})

	t.Run("newer CurrentLeaderEpoch is UNKNOWN_LEADER_EPOCH", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		epoch := leaderEpoch(t, c, name, 0)
		wantCode(t, "ListOffsets with a newer leader epoch", listOffsetEpoch(t, c, name, epoch+1).ErrorCode, kerr.UnknownLeaderEpoch)
		wantCode(t, "ListOffsets with the current leader epoch", listOffsetEpoch(t, c, name, epoch).ErrorCode, nil)
	})

	t.Run("unknown topic or partition", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 2, nil)
		for _, p := range []int32{2, -1} {
			wantCode(t, fmt.Sprintf("ListOffsets of partition %d of 2", p), listOffset(t, c, 7, name, p, -1).ErrorCode, kerr.UnknownTopicOrPartition)
		}
		wantCode(t, "ListOffsets of an absent topic", listOffset(t, c, 7, topicName(t), 0, -1).ErrorCode, kerr.UnknownTopicOrPartition)
	})
}

// listOffsetEpoch asks ListOffsets v8 for the latest offset of partition 0 with a
// CurrentLeaderEpoch.
func listOffsetEpoch(t *testing.T, c *conn, topic string, epoch int32) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 8
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = 0, epoch, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return c.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
}
