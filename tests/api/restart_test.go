package api

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A restart (SIGTERM, then `kafscale dev` again on the same data directory) is a new leader
// incarnation: the log continues where it stopped, the cluster and topic ids, partition
// counts, configs and deletions stay, and the leader epoch rises, fencing requests that
// carry the old one (KIP-320). Data from before the restart is served from the object store.
func TestRestart(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000

	c := dial(ctx, t, b.Addr)
	// cont: the log continues.
	cont := topicName(t)
	createTopic(t, c, cont, 1, nil)
	produceOK(t, c, cont, 0, batchOf(3, 10))
	// data: batches compared byte for byte, timestamps, fencing, configs.
	data := topicName(t)
	dataID := createTopic(t, c, data, 1, map[string]string{"retention.ms": "3600000"})
	produced := [][]byte{
		makeBatch(0, rec{nil, []byte("0"), base + 1000}, rec{[]byte("k"), []byte("1"), base + 2000}, rec{nil, []byte("2"), base + 3000}),
		makeBatch(codecGzip, rec{[]byte("k"), bytes.Repeat([]byte("v"), 500), base + 9000}),
		makeBatch(0, rec{nil, bytes.Repeat([]byte("w"), 2000), base + 4000}),
	}
	var bases []int64
	for _, p := range produced {
		bases = append(bases, produceOK(t, c, data, 0, bytes.Clone(p)))
	}
	// limits: four 300-byte batches for byte limits on object-store reads.
	limits := topicName(t)
	createTopic(t, c, limits, 1, nil)
	for range 4 {
		produceOK(t, c, limits, 0, batchOfSize(t, 300))
	}
	// grown: 2 partitions grown to 3. gone: deleted.
	grown, gone := topicName(t), topicName(t)
	createTopic(t, c, grown, 2, nil)
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Version, cp.TimeoutMillis = 3, 30000
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: grown, Count: 3}}
	wantCode(t, "CreatePartitions", c.do(cp).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode, nil)
	createTopic(t, c, gone, 1, nil)
	wantCode(t, "DeleteTopics", deleteByName(t, c, 6, gone).ErrorCode, nil)

	oldEpoch := leaderEpoch(t, c, data, 0)
	meta := c.do(metadataReq(12, false, data)).(*kmsg.MetadataResponse)
	if meta.ClusterID == nil {
		t.Fatal("Metadata v12 has no cluster id")
	}
	oldCluster := *meta.ClusterID

	b.Term(30 * time.Second)
	b.Restart()

	t.Run("produce continues at the next offset", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		if hw := highWatermark(t, c, cont, 0); hw != 3 {
			t.Fatalf("high watermark after restart %d, want 3", hw)
		}
		if base := produceOK(t, c, cont, 0, batchOf(2, 10)); base != 3 {
			t.Fatalf("first produce after restart got base offset %d, want 3", base)
		}
		if hw := highWatermark(t, c, cont, 0); hw != 5 {
			t.Fatalf("high watermark %d, want 5", hw)
		}
	})

	t.Run("leader epoch is higher than before", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		if e := leaderEpoch(t, c, data, 0); e <= oldEpoch {
			t.Fatalf("leader epoch after restart %d, before %d; want higher", e, oldEpoch)
		}
		if e := listOffset(t, c, 8, data, 0, -1).LeaderEpoch; e <= oldEpoch {
			t.Fatalf("ListOffsets leader epoch after restart %d, before %d; want higher", e, oldEpoch)
		}
	})

	t.Run("cluster id and topic id are stable", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		meta := c.do(metadataReq(12, false, data)).(*kmsg.MetadataResponse)
		if meta.ClusterID == nil || *meta.ClusterID != oldCluster {
			t.Fatalf("cluster id after restart %s, before %q", strOrNil(meta.ClusterID), oldCluster)
		}
		if meta.Topics[0].TopicID != dataID {
			t.Fatalf("topic id after restart %x, before %x", meta.Topics[0].TopicID, dataID)
		}
	})

	t.Run("partition counts, configs and deletions survive", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		if n := len(metadataTopic(t, c, grown).Partitions); n != 3 {
			t.Fatalf("grown topic has %d partitions after restart, want 3", n)
		}
		wantAbsent(t, c, gone)
		cfg := configMap(describeConfigs(t, c, 4, kmsg.ConfigResourceTypeTopic, data, []string{"retention.ms"}, false, false))["retention.ms"]
		if cfg.Value == nil || *cfg.Value != "3600000" || cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("retention.ms after restart %s source %v, want the override", strOrNil(cfg.Value), cfg.Source)
		}
	})

	// Batches written before the restart come back byte for byte, stamped with the leader
	// epoch they were written under.
	t.Run("records from before the restart are fetched unchanged", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		got, hw := fetchAll(t, c, data, 0)
		if len(got) != len(produced) || hw != 5 {
			t.Fatalf("fetched %d batches, high watermark %d after restart; produced %d batches of 5 records", len(got), hw, len(produced))
		}
		for i := range produced {
			want := bytes.Clone(produced[i])
			binary.BigEndian.PutUint64(want[0:8], uint64(bases[i]))
			binary.BigEndian.PutUint32(want[12:16], uint32(oldEpoch))
			if !bytes.Equal(got[i], want) {
				t.Fatalf("batch %d after restart\n% x\nwant\n% x", i, got[i][:min(80, len(got[i]))], want[:min(80, len(want))])
			}
		}
	})

	t.Run("byte limits apply to batches read from the object store", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		stored, _ := fetchAll(t, c, limits, 0)
		if len(stored) != 4 {
			t.Fatalf("fetched %d batches, want 4", len(stored))
		}
		for _, tc := range []struct {
			partMax, maxBytes int32
			whole             int
		}{{700, 50 << 20, 2}, {50 << 20, 700, 2}, {100, 100, 1}, {300, 50 << 20, 1}, {1200, 1200, 4}} {
			req := fetchReq(12, limits, [16]byte{}, 0, 0)
			req.MaxBytes = tc.maxBytes
			req.Topics[0].Partitions[0].PartitionMaxBytes = tc.partMax
			_, p := fetchOne(t, c, req)
			wantCode(t, "Fetch", p.ErrorCode, nil)
			got := splitBatches(t, p.RecordBatches)
			limit := int(min(tc.partMax, tc.maxBytes))
			if len(got) != tc.whole || (len(p.RecordBatches) > limit && tc.whole > 1) {
				t.Fatalf("PartitionMaxBytes=%d MaxBytes=%d returns %d bytes, %d whole batches; want %d whole batches within the limit", tc.partMax, tc.maxBytes, len(p.RecordBatches), len(got), tc.whole)
			}
			for i := range got {
				if !bytes.Equal(got[i], stored[i]) {
					t.Fatalf("batch %d differs from a full fetch", i)
				}
			}
		}
	})

	t.Run("ListOffsets by timestamp and max timestamp after restart", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, tc := range []struct {
			ts, offset, found int64
		}{
			{base, 0, base + 1000},
			{base + 2500, 2, base + 3000},
			{base + 3500, 3, base + 9000},
			{base + 9001, -1, -1},
			{-3, 3, base + 9000},
		} {
			p := listOffset(t, c, 8, data, 0, tc.ts)
			wantCode(t, fmt.Sprintf("ListOffsets %d", tc.ts), p.ErrorCode, nil)
			if p.Offset != tc.offset || p.Timestamp != tc.found {
				t.Errorf("ListOffsets %d after restart answers offset %d timestamp %d, want %d, %d", tc.ts, p.Offset, p.Timestamp, tc.offset, tc.found)
			}
		}
	})

	t.Run("old CurrentLeaderEpoch is FENCED_LEADER_EPOCH", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		cur := leaderEpoch(t, c, data, 0)
		for _, tc := range []struct {
			epoch int32
			want  *kerr.Error
		}{{oldEpoch, kerr.FencedLeaderEpoch}, {cur, nil}, {cur + 1, kerr.UnknownLeaderEpoch}} {
			req := fetchReq(12, data, [16]byte{}, 0, 0)
			req.Topics[0].Partitions[0].CurrentLeaderEpoch = tc.epoch
			_, p := fetchOne(t, c, req)
			wantCode(t, fmt.Sprintf("Fetch with leader epoch %d (current %d)", tc.epoch, cur), p.ErrorCode, tc.want)
			wantCode(t, fmt.Sprintf("ListOffsets with leader epoch %d (current %d)", tc.epoch, cur), listOffsetEpoch(t, c, data, tc.epoch).ErrorCode, tc.want)
		}
	})
}
