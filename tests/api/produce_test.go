package api

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchOfSize returns an uncompressed one-record batch of exactly size bytes.
func batchOfSize(t *testing.T, size int) []byte {
	t.Helper()
	for v := size - len(batchOf(1, 0)); v >= 0; v-- {
		if b := batchOf(1, v); len(b) == size {
			return b
		}
	}
	t.Fatalf("cannot build a batch of %d bytes", size)
	return nil
}

func TestProduce(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)

	t.Run("acks other than -1, 0, 1 is INVALID_REQUIRED_ACKS", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for _, acks := range []int16{2, -2, 5} {
			resp := c.do(produceReq(9, acks, producePart{name, 0, batchOf(1, 10)})).(*kmsg.ProduceResponse)
			wantCode(t, fmt.Sprintf("Produce acks=%d", acks), resp.Topics[0].Partitions[0].ErrorCode, kerr.InvalidRequiredAcks)
		}
		if hw := highWatermark(t, c, name, 0); hw != 0 {
			t.Fatalf("high watermark %d after produces with invalid acks, want 0", hw)
		}
	})

	// A produce refused as a whole (invalid acks, a transactional id) reserved no buffer
	// space, so it must not give any back: the broker's buffer.bytes accounting would go
	// negative ("BUG: flush buffer accounting went negative") and later under-count.
	t.Run("refused produce leaves buffer accounting intact", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		mark := logMark(b)
		p := c.do(produceReq(9, 2, producePart{name, 0, batchOf(5, 100)})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		wantCode(t, "Produce acks=2", p.ErrorCode, kerr.InvalidRequiredAcks)
		req := produceReq(9, -1, producePart{name, 0, batchOf(5, 100)})
		req.TransactionID = kmsg.StringPtr("txn")
		p = c.do(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		wantCode(t, "transactional Produce", p.ErrorCode, kerr.TransactionalIDAuthorizationFailed)
		produceOK(t, c, name, 0, batchOf(1, 10))
		checkNoBug(t, b, mark)
	})

	t.Run("acks=0 error closes the connection", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		c.send(produceReq(9, 0, producePart{name, 5, batchOf(1, 10)}))
		if read, closed := c.awaitClose(); !closed || len(read) > 0 {
			t.Fatalf("acks=0 produce to an unknown partition: connection closed %t, %d bytes answered; want closed silently", closed, len(read))
		}
	})

	t.Run("acks=0 gets no answer and stores the records", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		c.send(produceReq(9, 0, producePart{name, 0, batchOf(3, 10)}))
		// The next frame on the connection answers the next request.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if hw := highWatermark(t, c, name, 0); hw == 3 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("high watermark %d 10 s after an acks=0 produce of 3 records", hw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("acks 1 and all are answered with base offsets", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for i, acks := range []int16{1, -1} {
			resp := c.do(produceReq(9, acks, producePart{name, 0, batchOf(2, 10)})).(*kmsg.ProduceResponse)
			p := resp.Topics[0].Partitions[0]
			wantCode(t, fmt.Sprintf("Produce acks=%d", acks), p.ErrorCode, nil)
			if p.BaseOffset != int64(2*i) {
				t.Fatalf("Produce acks=%d base offset %d, want %d", acks, p.BaseOffset, 2*i)
			}
		}
	})

	// Kafka compares each batch (not the request's records) with the topic's
	// max.message.bytes: a batch of exactly max.message.bytes is accepted, one byte more
	// is MESSAGE_TOO_LARGE and nothing of that partition is stored.
	t.Run("batch over max.message.bytes is MESSAGE_TOO_LARGE and nothing is stored", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, map[string]string{"max.message.bytes": "1000"})
		for _, v := range []int16{3, 9, 11} {
			p := c.do(produceReq(v, -1, producePart{name, 0, batchOfSize(t, 1001)})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			wantCode(t, fmt.Sprintf("Produce v%d of a 1001-byte batch with max.message.bytes=1000", v), p.ErrorCode, kerr.MessageTooLarge)
		}
		// An oversize batch after a good one in the same request: none of it is stored.
		p := produce(t, c, name, 0, slices.Concat(batchOf(1, 10), batchOfSize(t, 1500)))
		wantCode(t, "Produce of a good batch then an oversize one", p.ErrorCode, kerr.MessageTooLarge)
		if hw := highWatermark(t, c, name, 0); hw != 0 {
			t.Fatalf("high watermark %d after only oversize produces, want 0", hw)
		}
		if base := produceOK(t, c, name, 0, batchOfSize(t, 1000)); base != 0 {
			t.Fatalf("a batch of exactly max.message.bytes got base offset %d, want 0", base)
		}
	})

	t.Run("batches each within max.message.bytes are accepted together", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, map[string]string{"max.message.bytes": "1000"})
		two := slices.Concat(batchOfSize(t, 800), batchOfSize(t, 800))
		p := produce(t, c, name, 0, two)
		wantCode(t, "Produce of two 800-byte batches with max.message.bytes=1000", p.ErrorCode, nil)
		if hw := highWatermark(t, c, name, 0); hw != 2 {
			t.Fatalf("high watermark %d, want 2", hw)
		}
	})

	t.Run("broker message.max.bytes applies to topics without an override", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		p := produce(t, c, name, 0, batchOf(1, 1048588))
		wantCode(t, "Produce of a batch over 1048588 bytes", p.ErrorCode, kerr.MessageTooLarge)
	})

	t.Run("corrupt CRC is CORRUPT_MESSAGE and nothing is stored", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		produceOK(t, c, name, 0, batchOf(2, 10))
		spoils := map[string]func([]byte){
			"record byte flipped": func(b []byte) { b[len(b)-1] ^= 0x01 },
			"crc field changed":   func(b []byte) { b[17] ^= 0xff },
			"attributes changed":  func(b []byte) { b[22] ^= 0x08 }, // covered by the CRC
		}
		for what, spoil := range spoils {
			bad := batchOf(3, 10)
			spoil(bad)
			wantCode(t, "Produce with "+what, produce(t, c, name, 0, bad).ErrorCode, kerr.CorruptMessage)
			// A good batch before the bad one in the same request is not stored either.
			wantCode(t, "Produce of a good batch then one with "+what, produce(t, c, name, 0, slices.Concat(batchOf(1, 10), bad)).ErrorCode, kerr.CorruptMessage)
		}
		if hw := highWatermark(t, c, name, 0); hw != 2 {
			t.Fatalf("high watermark %d after corrupt batches, want 2 (unchanged)", hw)
		}
		batches, _ := fetchAll(t, c, name, 0)
		if len(batches) != 1 {
			t.Fatalf("partition holds %d batches, want only the good one", len(batches))
		}
	})

	t.Run("unknown partition is UNKNOWN_TOPIC_OR_PARTITION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 2, nil)
		for _, p := range []int32{2, 100, -1} {
			wantCode(t, fmt.Sprintf("Produce to partition %d of 2", p), produce(t, c, name, p, batchOf(1, 10)).ErrorCode, kerr.UnknownTopicOrPartition)
		}
		wantCode(t, "Produce to an absent topic", produce(t, c, topicName(t), 0, batchOf(1, 10)).ErrorCode, kerr.UnknownTopicOrPartition)
	})

	// One request to five partitions of two topics (and one unknown partition): each gets
	// its own base offset, following what each partition held before.
	t.Run("many partitions of several topics in one request", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		ta, tb := topicName(t), topicName(t)
		createTopic(t, c, ta, 3, nil)
		createTopic(t, c, tb, 2, nil)
		before := map[string][]int{ta: {0, 2, 5}, tb: {1, 0}}
		for topic, counts := range before {
			for p, n := range counts {
				if n > 0 {
					produceOK(t, c, topic, int32(p), batchOf(n, 5))
				}
			}
		}
		parts := []producePart{
			{ta, 0, batchOf(2, 5)}, {tb, 0, batchOf(4, 5)}, {ta, 1, batchOf(1, 5)},
			{ta, 2, batchOf(3, 5)}, {tb, 1, batchOf(1, 5)}, {ta, 9, batchOf(1, 5)},
		}
		resp := c.do(produceReq(9, -1, parts...)).(*kmsg.ProduceResponse)
		got := map[string]map[int32]kmsg.ProduceResponseTopicPartition{}
		for _, rt := range resp.Topics {
			if got[rt.Topic] == nil {
				got[rt.Topic] = map[int32]kmsg.ProduceResponseTopicPartition{}
			}
			for _, rp := range rt.Partitions {
				got[rt.Topic][rp.Partition] = rp
			}
		}
		for _, pp := range parts {
			rp, ok := got[pp.topic][pp.partition]
			if !ok {
				t.Fatalf("Produce response lacks %s/%d", pp.topic, pp.partition)
			}
			if pp.partition == 9 {
				wantCode(t, "Produce to the unknown partition", rp.ErrorCode, kerr.UnknownTopicOrPartition)
				continue
			}
			wantCode(t, fmt.Sprintf("Produce to %s/%d", pp.topic, pp.partition), rp.ErrorCode, nil)
			if want := int64(before[pp.topic][pp.partition]); rp.BaseOffset != want {
				t.Errorf("%s/%d base offset %d, want %d", pp.topic, pp.partition, rp.BaseOffset, want)
			}
		}
	})

	t.Run("offsets are dense across requests and batches", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		var want int64
		for _, records := range [][]byte{
			batchOf(3, 5),
			batchOf(1, 5),
			slices.Concat(batchOf(2, 5), batchOf(4, 5)), // two batches in one partition
			makeBatch(codecGzip, rec{[]byte("a"), []byte("b"), 1}, rec{[]byte("c"), []byte("d"), 2}),
			batchOf(5, 5),
		} {
			n := int64(0)
			for _, bt := range splitBatches(t, records) {
				n += int64(binary.BigEndian.Uint32(bt[57:61]))
			}
			if base := produceOK(t, c, name, 0, records); base != want {
				t.Fatalf("base offset %d, want %d", base, want)
			}
			want += n
		}
		batches, hw := fetchAll(t, c, name, 0)
		if hw != want {
			t.Fatalf("high watermark %d, want %d", hw, want)
		}
		next := int64(0)
		for _, bt := range batches {
			if batchBase(bt) != next {
				t.Fatalf("stored batch at base offset %d, want %d", batchBase(bt), next)
			}
			next += int64(binary.BigEndian.Uint32(bt[23:27])) + 1 // last offset delta
		}
		if next != want {
			t.Fatalf("stored batches end at %d, want %d", next, want)
		}
	})

	t.Run("v5+ answers the log start offset", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for _, v := range []int16{5, 8, 9, 11} {
			p := c.do(produceReq(v, -1, producePart{name, 0, batchOf(1, 5)})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			wantCode(t, fmt.Sprintf("Produce v%d", v), p.ErrorCode, nil)
			if p.LogStartOffset != 0 {
				t.Fatalf("Produce v%d log start offset %d, want 0", v, p.LogStartOffset)
			}
		}
	})

	t.Run("every version from 3 to 11 is served", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		for v := int16(3); v <= 11; v++ {
			p := c.do(produceReq(v, -1, producePart{name, 0, batchOf(1, 5)})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			wantCode(t, fmt.Sprintf("Produce v%d", v), p.ErrorCode, nil)
			if p.BaseOffset != int64(v-3) {
				t.Fatalf("Produce v%d base offset %d, want %d", v, p.BaseOffset, v-3)
			}
		}
	})

	t.Run("idempotent batch is deduplicated and sequence-checked", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 1, nil)
		idem := func(seq int32, epoch int16) []byte {
			bt := batchOf(1, 5)
			binary.BigEndian.PutUint64(bt[43:51], 7)             // producer id
			binary.BigEndian.PutUint16(bt[51:53], uint16(epoch)) // producer epoch
			binary.BigEndian.PutUint32(bt[53:57], uint32(seq))   // first sequence
			binary.BigEndian.PutUint32(bt[17:21], crc32cOf(bt[21:]))
			return bt
		}
		first := produce(t, c, name, 0, idem(0, 1))
		wantCode(t, "Produce of a new idempotent producer's batch", first.ErrorCode, nil)
		again := produce(t, c, name, 0, idem(0, 1))
		wantCode(t, "Produce of a retried duplicate", again.ErrorCode, nil)
		if again.BaseOffset != first.BaseOffset {
			t.Fatalf("duplicate answered at offset %d, the original is at %d", again.BaseOffset, first.BaseOffset)
		}
		wantCode(t, "Produce with a sequence gap", produce(t, c, name, 0, idem(5, 1)).ErrorCode, kerr.OutOfOrderSequenceNumber)
		wantCode(t, "Produce with an older epoch", produce(t, c, name, 0, idem(1, 0)).ErrorCode, kerr.InvalidProducerEpoch)
		wantCode(t, "Produce with a new epoch not at sequence 0", produce(t, c, name, 0, idem(1, 2)).ErrorCode, kerr.OutOfOrderSequenceNumber)
		wantCode(t, "Produce of the next sequence", produce(t, c, name, 0, idem(1, 1)).ErrorCode, nil)
		if hw := highWatermark(t, c, name, 0); hw != 2 {
			t.Fatalf("high watermark %d, want 2: the duplicate or a refused batch was stored", hw)
		}
	})
}
