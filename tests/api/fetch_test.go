package api

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchParts builds a Fetch v12 request for partitions 0..n-1 of topic, all from offset 0.
func fetchParts(topic string, n int32, partMax, maxBytes int32) *kmsg.FetchRequest {
	req := fetchReq(12, topic, [16]byte{}, 0, 0)
	req.MaxBytes = maxBytes
	req.Topics[0].Partitions[0].PartitionMaxBytes = partMax
	for p := int32(1); p < n; p++ {
		rp := req.Topics[0].Partitions[0]
		rp.Partition = p
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	}
	return req
}

// timedFetch sends req and returns the response and how long it took.
func timedFetch(t *testing.T, c *conn, req *kmsg.FetchRequest) (*kmsg.FetchResponse, time.Duration) {
	t.Helper()
	start := time.Now()
	resp := c.do(req).(*kmsg.FetchResponse)
	return resp, time.Since(start)
}

func TestFetch(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)

	t.Run("long-poll without data answers after MaxWaitMillis", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		req := fetchReq(12, name, [16]byte{}, 0, 0)
		req.MaxWaitMillis, req.MinBytes = 1000, 1
		resp, took := timedFetch(t, c, req)
		p := resp.Topics[0].Partitions[0]
		wantCode(t, "Fetch", p.ErrorCode, nil)
		if len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
			t.Fatalf("Fetch of an empty partition returns %d bytes, high watermark %d", len(p.RecordBatches), p.HighWatermark)
		}
		if took < 800*time.Millisecond || took > 5*time.Second {
			t.Fatalf("Fetch with MaxWaitMillis=1000 and no data answered after %v, want about 1 s", took)
		}
	})

	t.Run("produce during the wait wakes the fetch early", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		req := fetchReq(12, name, [16]byte{}, 0, 0)
		req.MaxWaitMillis, req.MinBytes = 20000, 1
		start := time.Now()
		corr := c.send(req)
		time.Sleep(300 * time.Millisecond)
		batch := batchOf(2, 10)
		produceOK(t, dial(ctx, t, b.Addr), name, 0, batch)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		c.receive(corr, resp)
		took := time.Since(start)
		p := resp.Topics[0].Partitions[0]
		wantCode(t, "Fetch", p.ErrorCode, nil)
		if took > 5*time.Second {
			t.Fatalf("parked Fetch (MaxWaitMillis=20000) answered %v after it was sent, want soon after the produce at 300 ms", took)
		}
		if got := splitBatches(t, p.RecordBatches); len(got) != 1 || p.HighWatermark != 2 {
			t.Fatalf("woken Fetch returns %d batches, high watermark %d; want the produced batch", len(got), p.HighWatermark)
		}
	})

	// Responses leave a connection in request order: a request pipelined behind a parked
	// fetch is answered after it.
	t.Run("responses keep request order behind a parked fetch", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		req := fetchReq(12, name, [16]byte{}, 0, 0)
		req.MaxWaitMillis, req.MinBytes = 1000, 1
		fetchCorr := c.send(req)
		metaCorr := c.send(metadataReq(12, false, name))
		var order []int32
		for range 2 {
			body, err := c.readFrame()
			if err != nil {
				t.Fatalf("cannot read a response: %v", err)
			}
			order = append(order, int32(binary.BigEndian.Uint32(body)))
		}
		if order[0] != fetchCorr || order[1] != metaCorr {
			t.Fatalf("responses arrived for correlation ids %v, want [%d %d] (request order)", order, fetchCorr, metaCorr)
		}
	})

	t.Run("MinBytes larger than available waits for MaxWaitMillis", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(1, 10))
		req := fetchReq(12, name, [16]byte{}, 0, 0)
		req.MaxWaitMillis, req.MinBytes = 1000, 1<<20
		resp, took := timedFetch(t, c, req)
		p := resp.Topics[0].Partitions[0]
		wantCode(t, "Fetch", p.ErrorCode, nil)
		if took < 800*time.Millisecond || took > 5*time.Second {
			t.Fatalf("Fetch with MinBytes=1MiB over %d available bytes answered after %v, want about 1 s", len(p.RecordBatches), took)
		}
		if len(splitBatches(t, p.RecordBatches)) != 1 {
			t.Fatalf("Fetch after MaxWaitMillis returns %d bytes, want the one batch available", len(p.RecordBatches))
		}
	})

	t.Run("MinBytes reached answers at once", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(1, 10))
		req := fetchReq(12, name, [16]byte{}, 0, 0)
		req.MaxWaitMillis, req.MinBytes = 10000, 1
		resp, took := timedFetch(t, c, req)
		if len(resp.Topics[0].Partitions[0].RecordBatches) == 0 || took > 5*time.Second {
			t.Fatalf("Fetch with data available answered after %v with %d bytes", took, len(resp.Topics[0].Partitions[0].RecordBatches))
		}
	})

	// Four ~300-byte batches; PartitionMaxBytes=700 returns the first two whole batches
	// and at most 700 bytes (Kafka may add a partial third, which clients drop).
	t.Run("PartitionMaxBytes limits a partition", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for range 4 {
			produceOK(t, c, name, 0, batchOfSize(t, 300))
		}
		stored, _ := fetchAll(t, c, name, 0)
		_, p := fetchOne(t, c, func() *kmsg.FetchRequest {
			r := fetchReq(12, name, [16]byte{}, 0, 0)
			r.Topics[0].Partitions[0].PartitionMaxBytes = 700
			return r
		}())
		wantCode(t, "Fetch", p.ErrorCode, nil)
		got := splitBatches(t, p.RecordBatches)
		if len(p.RecordBatches) > 700 || len(got) != 2 {
			t.Fatalf("Fetch with PartitionMaxBytes=700 returns %d bytes, %d whole batches; want <= 700 bytes, 2 batches", len(p.RecordBatches), len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i], stored[i]) {
				t.Fatalf("batch %d differs from the stored one", i)
			}
		}
	})

	t.Run("MaxBytes limits the whole response", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 2, nil)
		for range 4 {
			produceOK(t, c, name, 0, batchOfSize(t, 300))
			produceOK(t, c, name, 1, batchOfSize(t, 300))
		}
		resp := c.do(fetchParts(name, 2, 1<<20, 1000)).(*kmsg.FetchResponse)
		total := 0
		var whole []int
		for _, p := range resp.Topics[0].Partitions {
			wantCode(t, fmt.Sprintf("Fetch partition %d", p.Partition), p.ErrorCode, nil)
			total += len(p.RecordBatches)
			whole = append(whole, len(splitBatches(t, p.RecordBatches)))
		}
		if total > 1000 || whole[0] != 3 || whole[1] != 0 {
			t.Fatalf("Fetch with MaxBytes=1000 over two partitions returns %d bytes, whole batches %v; want <= 1000 bytes, [3 0]", total, whole)
		}
	})

	// KIP-74: the first non-empty partition returns its first batch whole even if it is
	// larger than PartitionMaxBytes and MaxBytes; later partitions do not.
	t.Run("first non-empty partition returns at least one whole batch", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 3, nil)
		big1, big2 := batchOf(1, 5000), batchOf(1, 6000)
		produceOK(t, c, name, 1, big1)
		produceOK(t, c, name, 2, big2)
		for _, lim := range [][2]int32{{100, 100}, {100, 1 << 20}, {1 << 20, 100}} {
			resp := c.do(fetchParts(name, 3, lim[0], lim[1])).(*kmsg.FetchResponse)
			ps := resp.Topics[0].Partitions
			for _, p := range ps {
				wantCode(t, fmt.Sprintf("Fetch partition %d", p.Partition), p.ErrorCode, nil)
			}
			got1 := splitBatches(t, ps[1].RecordBatches)
			if len(ps[0].RecordBatches) != 0 || len(got1) != 1 || len(got1[0]) != len(big1) {
				t.Fatalf("PartitionMaxBytes=%d MaxBytes=%d: partition 1 (first non-empty) returns %d bytes, want its %d-byte batch whole", lim[0], lim[1], len(ps[1].RecordBatches), len(big1))
			}
			if n := len(splitBatches(t, ps[2].RecordBatches)); n != 0 {
				t.Fatalf("PartitionMaxBytes=%d MaxBytes=%d: partition 2 returns %d whole batches of %d bytes, want none (only the first non-empty partition may exceed the limits)", lim[0], lim[1], n, len(big2))
			}
		}
	})

	t.Run("v13+ fetches by topic id", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		id := createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(3, 10))
		for v := int16(13); v <= 16; v++ {
			resp, p := fetchOne(t, c, fetchReq(v, "", id, 0, 0))
			wantCode(t, fmt.Sprintf("Fetch v%d by id", v), p.ErrorCode, nil)
			if resp.Topics[0].TopicID != id {
				t.Fatalf("Fetch v%d answers topic id %x, want %x", v, resp.Topics[0].TopicID, id)
			}
			if len(splitBatches(t, p.RecordBatches)) != 1 || p.HighWatermark != 3 {
				t.Fatalf("Fetch v%d by id returns %d bytes, high watermark %d", v, len(p.RecordBatches), p.HighWatermark)
			}
		}
	})

	t.Run("v13+ unknown topic id is UNKNOWN_TOPIC_ID", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{13, 16} {
			_, p := fetchOne(t, c, fetchReq(v, "", [16]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, 0, 0))
			wantCode(t, fmt.Sprintf("Fetch v%d of an unknown id", v), p.ErrorCode, kerr.UnknownTopicID)
		}
		_, p := fetchOne(t, c, fetchReq(12, topicName(t), [16]byte{}, 0, 0))
		wantCode(t, "Fetch v12 of an unknown name", p.ErrorCode, kerr.UnknownTopicOrPartition)
	})

	t.Run("offset beyond the high watermark is OFFSET_OUT_OF_RANGE", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(3, 10))
		for _, off := range []int64{4, 1000, -5} {
			_, p := fetchOne(t, c, fetchReq(12, name, [16]byte{}, 0, off))
			wantCode(t, fmt.Sprintf("Fetch at offset %d of 3", off), p.ErrorCode, kerr.OffsetOutOfRange)
		}
		_, p := fetchOne(t, c, fetchReq(12, name, [16]byte{}, 0, 3))
		wantCode(t, "Fetch at the high watermark", p.ErrorCode, nil)
		if len(p.RecordBatches) != 0 {
			t.Fatalf("Fetch at the high watermark returns %d bytes", len(p.RecordBatches))
		}
		// An offset inside a batch returns that batch (the client skips the records before).
		_, p = fetchOne(t, c, fetchReq(12, name, [16]byte{}, 0, 1))
		if got := splitBatches(t, p.RecordBatches); len(got) != 1 || batchBase(got[0]) != 0 {
			t.Fatalf("Fetch at offset 1 inside batch 0-2 returns %d batches", len(got))
		}
	})

	// KIP-227: a full fetch (session id 0, epoch 0) may be answered sessionless with
	// session id 0; the client keeps sending full fetches, which keep working.
	t.Run("session id 0 epoch 0 is answered sessionless", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(2, 10))
		for i, epoch := range []int32{0, 0, -1} {
			req := fetchReq(12, name, [16]byte{}, 0, 0)
			req.SessionID, req.SessionEpoch = 0, epoch
			resp, p := fetchOne(t, c, req)
			if resp.SessionID != 0 {
				t.Fatalf("fetch %d (session 0 epoch %d) answered session id %d, want 0 (sessionless)", i, epoch, resp.SessionID)
			}
			wantCode(t, "Fetch", p.ErrorCode, nil)
			if len(splitBatches(t, p.RecordBatches)) != 1 {
				t.Fatalf("full fetch %d returns %d bytes", i, len(p.RecordBatches))
			}
		}
	})

	t.Run("unknown session id is FETCH_SESSION_ID_NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for _, v := range []int16{7, 12, 16} {
			req := fetchReq(v, name, [16]byte{}, 0, 0)
			if v >= 13 {
				req.Topics[0].TopicID = metadataTopic(t, c, name).TopicID
			}
			req.SessionID, req.SessionEpoch = 123456, 1
			resp := c.do(req).(*kmsg.FetchResponse)
			wantCode(t, fmt.Sprintf("Fetch v%d in made-up session 123456 epoch 1", v), resp.ErrorCode, kerr.FetchSessionIDNotFound)
		}
	})

	// Kafka treats epoch 0 (new session) and -1 (final) as full fetches: it drops the named
	// session if it has it, and serves the fetch (FetchManager.newContext). Only an
	// incremental fetch (epoch > 0) of an unknown session is FETCH_SESSION_ID_NOT_FOUND.
	t.Run("full fetch naming an unknown session is served", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(2, 10))
		for _, epoch := range []int32{-1, 0} {
			req := fetchReq(12, name, [16]byte{}, 0, 0)
			req.SessionID, req.SessionEpoch = 123456, epoch
			resp := c.do(req).(*kmsg.FetchResponse)
			wantCode(t, fmt.Sprintf("Fetch in session 123456 epoch %d", epoch), resp.ErrorCode, nil)
			if epoch == -1 && resp.SessionID != 0 {
				t.Fatalf("final-epoch fetch answered session id %d, want 0", resp.SessionID)
			}
			if len(resp.Topics) != 1 || len(splitBatches(t, resp.Topics[0].Partitions[0].RecordBatches)) != 1 {
				t.Fatalf("full fetch (epoch %d) does not return the partition's batch", epoch)
			}
		}
	})

	t.Run("newer CurrentLeaderEpoch is UNKNOWN_LEADER_EPOCH", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		epoch := leaderEpoch(t, c, name, 0)
		for _, cur := range []int32{epoch, -1} {
			req := fetchReq(12, name, [16]byte{}, 0, 0)
			req.Topics[0].Partitions[0].CurrentLeaderEpoch = cur
			_, p := fetchOne(t, c, req)
			wantCode(t, fmt.Sprintf("Fetch with current leader epoch %d (leader's %d)", cur, epoch), p.ErrorCode, nil)
		}
		req := fetchReq(12, name, [16]byte{}, 0, 0)
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch + 1
		_, p := fetchOne(t, c, req)
		wantCode(t, fmt.Sprintf("Fetch with current leader epoch %d (leader's %d)", epoch+1, epoch), p.ErrorCode, kerr.UnknownLeaderEpoch)
	})

	// The broker stores and serves the producer's batches as they are: only the base offset
	// and the partition leader epoch (neither covered by the CRC) change.
	t.Run("fetched batches are the produced bytes", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		epoch := leaderEpoch(t, c, name, 0)
		now := time.Now().UnixMilli()
		produced := [][]byte{
			batchOf(3, 20),
			makeBatch(codecGzip, rec{[]byte("k1"), bytes.Repeat([]byte("gz"), 200), now}, rec{nil, []byte("v2"), now + 7}),
			makeBatch(0, rec{[]byte("x"), nil, now - 5}, rec{[]byte("y"), []byte("z"), now + 3}),
			batchOf(1, 3000),
		}
		var bases []int64
		for _, p := range produced {
			bases = append(bases, produceOK(t, c, name, 0, slices.Clone(p)))
		}
		got, _ := fetchAll(t, c, name, 0)
		if len(got) != len(produced) {
			t.Fatalf("fetched %d batches, produced %d", len(got), len(produced))
		}
		for i := range produced {
			want := slices.Clone(produced[i])
			binary.BigEndian.PutUint64(want[0:8], uint64(bases[i]))
			binary.BigEndian.PutUint32(want[12:16], uint32(epoch))
			if !bytes.Equal(got[i], want) {
				t.Fatalf("batch %d fetched as\n% x\nwant\n% x", i, got[i][:min(len(got[i]), 80)], want[:min(len(want), 80)])
			}
		}
	})

	t.Run("every version from 4 to 16 is served", func(t *testing.T) {
		t.Parallel()
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		id := createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(2, 10))
		for v := int16(4); v <= 16; v++ {
			_, p := fetchOne(t, c, fetchReq(v, name, id, 0, 0))
			wantCode(t, fmt.Sprintf("Fetch v%d", v), p.ErrorCode, nil)
			if len(splitBatches(t, p.RecordBatches)) != 1 || p.HighWatermark != 2 {
				t.Fatalf("Fetch v%d returns %d bytes, high watermark %d", v, len(p.RecordBatches), p.HighWatermark)
			}
			if v >= 5 && p.LogStartOffset != 0 {
				t.Fatalf("Fetch v%d log start offset %d, want 0", v, p.LogStartOffset)
			}
		}
	})
}
