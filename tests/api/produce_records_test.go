package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// Compression attributes of a record batch (its attributes' low 3 bits).
const (
	attrGzip = 1
	attrZstd = 4
)

// rawBatch wraps records (already compressed with compression, or garbage) in a v2 batch
// header claiming count records at offsets 0..lastDelta, all stamped ts, with a correct
// CRC32C: only a broker that walks the records can tell it from a good batch.
func rawBatch(compression int16, count, lastDelta int32, ts int64, records []byte) []byte {
	b := make([]byte, 0, 61+len(records))
	b = kbin.AppendInt64(b, 0)                         // base offset
	b = kbin.AppendInt32(b, int32(61-12+len(records))) // batch length
	b = kbin.AppendInt32(b, -1)                        // partition leader epoch
	b = append(b, 2)                                   // magic
	b = kbin.AppendInt32(b, 0)                         // crc, set below
	b = kbin.AppendInt16(b, compression)
	b = kbin.AppendInt32(b, lastDelta)
	b = kbin.AppendInt64(b, ts) // base timestamp
	b = kbin.AppendInt64(b, ts) // max timestamp
	b = kbin.AppendInt64(b, -1) // producer id
	b = kbin.AppendInt16(b, -1) // producer epoch
	b = kbin.AppendInt32(b, -1) // base sequence
	b = kbin.AppendInt32(b, count)
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[17:21], crc32cOf(b[21:]))
	return b
}

// recordBytes encodes one record v2 with the given offset delta, key and value.
func recordBytes(offsetDelta int32, key, value []byte) []byte {
	var body []byte
	body = append(body, 0) // attributes
	body = kbin.AppendVarlong(body, 0)
	body = kbin.AppendVarint(body, offsetDelta)
	body = kbin.AppendVarintBytes(body, key)
	body = kbin.AppendVarintBytes(body, value)
	body = kbin.AppendVarint(body, 0) // headers
	return append(kbin.AppendVarint(nil, int32(len(body))), body...)
}

// bombRecords returns, compressed by newWriter, one record whose value is size zero bytes:
// a well-formed record, so only a bound on the decompressed size refuses it. The zeros
// are streamed into the compressor, never held whole.
func bombRecords(t *testing.T, size int64, newWriter func(io.Writer) (io.WriteCloser, error)) []byte {
	t.Helper()
	var body []byte
	body = append(body, 0)
	body = kbin.AppendVarlong(body, 0)
	body = kbin.AppendVarint(body, 0)
	body = kbin.AppendVarint(body, -1)     // null key
	body = binary.AppendVarint(body, size) // value length
	bodyLen := int64(len(body)) + size + 1 // + the header count after the value
	prefix := append(binary.AppendVarint(nil, bodyLen), body...)
	var out bytes.Buffer
	w, err := newWriter(&out)
	if err != nil {
		t.Fatalf("cannot create compressor: %v", err)
	}
	zeros := make([]byte, 1<<20)
	_, err = w.Write(prefix)
	for left := size; left > 0 && err == nil; left -= int64(len(zeros)) {
		_, err = w.Write(zeros[:min(left, int64(len(zeros)))])
	}
	if err == nil {
		_, err = w.Write([]byte{0}) // no headers
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("cannot compress a %d-byte bomb: %v", size, err)
	}
	return out.Bytes()
}

// gzipped compresses b with gzip.
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// TestProduceRefusesUndecodableRecords guards against issue 19 finding 3, "garbage stored
// for good": Produce checked only a batch's framing and CRC, so batches whose CRC is valid
// but whose records do not parse, whose record count lies, or that decompress to a
// gigabyte (bombs) were stored; afterwards ListOffsets by timestamp on the partition
// answered KAFKA_STORAGE_ERROR and consumers received batches they could not decode. Kafka
// walks every record on append (LogValidator). Each case is refused with Kafka's code and
// a message, the broker's RSS does not jump (a bomb is streamed, never held whole), and
// afterwards the partition holds only the good batches, ListOffsets by timestamp answers,
// and a consumer reads every good record.
func TestProduceRefusesUndecodableRecords(t *testing.T) {
	// Built without the race detector, whose shadow memory would swamp the RSS bound.
	b := testbroker.StartPlain(t)
	t.Cleanup(func() { checkNoBug(t, b, 0) })
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)

	rng := rand.New(rand.NewPCG(19, 3))
	garbage := make([]byte, 300)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	two := append(recordBytes(0, []byte("a"), []byte("b")), recordBytes(1, []byte("c"), []byte("d"))...)

	// The bug: a CRC-valid batch around records that do not parse was stored; consumers
	// could not decode it and ListOffsets by timestamp failed on it.
	t.Run("garbage records with a valid CRC are INVALID_RECORD", func(t *testing.T) {
		checkRefused(ctx, t, b, c, kerr.InvalidRecord, func(ts int64) []byte { return rawBatch(0, 3, 2, ts, garbage) })
		checkRefused(ctx, t, b, c, kerr.InvalidRecord, func(ts int64) []byte { return rawBatch(attrGzip, 3, 2, ts, gzipped(garbage)) })
		checkRefused(ctx, t, b, c, kerr.InvalidRecord, func(ts int64) []byte {
			return rawBatch(0, 2, 1, ts, append(recordBytes(0, nil, []byte("x")), recordBytes(0, nil, []byte("y"))...)) // offset deltas 0, 0
		})
	})

	// The bug: a batch whose gzip payload does not decompress was stored.
	t.Run("compressed bytes that do not decompress are CORRUPT_MESSAGE", func(t *testing.T) {
		checkRefused(ctx, t, b, c, kerr.CorruptMessage, func(ts int64) []byte { return rawBatch(attrGzip, 2, 1, ts, two) })
	})

	// The bug: a batch whose header counts more or fewer records than it holds was stored;
	// readers that trust the count misread the partition.
	t.Run("record count mismatch is INVALID_RECORD", func(t *testing.T) {
		checkRefused(ctx, t, b, c, kerr.InvalidRecord, func(ts int64) []byte { return rawBatch(0, 3, 2, ts, two) })
		checkRefused(ctx, t, b, c, kerr.InvalidRecord, func(ts int64) []byte { return rawBatch(0, 1, 0, ts, two) })
		checkRefused(ctx, t, b, c, kerr.InvalidRecord, func(ts int64) []byte { return rawBatch(attrGzip, 3, 2, ts, gzipped(two)) })
	})

	// The bug: a 256 KiB gzip batch decompressing to 256 MiB was stored, and every
	// ListOffsets by timestamp over it answered KAFKA_STORAGE_ERROR ("decompressed records
	// exceed limit") after inflating it. A well-formed record past the bound is
	// MESSAGE_TOO_LARGE (Kafka has no bound; see docs/operations.md).
	t.Run("gzip bomb is MESSAGE_TOO_LARGE", func(t *testing.T) {
		bomb := bombRecords(t, 256<<20, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil })
		checkRefused(ctx, t, b, c, kerr.MessageTooLarge, func(ts int64) []byte { return rawBatch(attrGzip, 1, 0, ts, bomb) })
	})

	// The bug: the fuzzer's 1 GiB from 32 KiB of zstd, stored as the gzip bomb above.
	t.Run("zstd bomb is MESSAGE_TOO_LARGE", func(t *testing.T) {
		bomb := bombRecords(t, 1<<30, func(w io.Writer) (io.WriteCloser, error) {
			return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		})
		checkRefused(ctx, t, b, c, kerr.MessageTooLarge, func(ts int64) []byte { return rawBatch(attrZstd, 1, 0, ts, bomb) })
	})
}

// checkRefused produces a good batch to a new topic, then the batch bad(ts) at Produce
// v3, v8 (the first with an error message) and v11, which must each be refused with want,
// then another good batch; then the partition must hold the 2 good batches only,
// ListOffsets by timestamp must find each good record, a consumer must read them all, and
// the broker's RSS must not have grown by more than a window's worth.
func checkRefused(ctx context.Context, t *testing.T, b *testbroker.Process, c *conn, want *kerr.Error, bad func(ts int64) []byte) {
	t.Helper()
	name := topicName(t)
	createTopic(t, c, name, 1, nil)
	mark := logMark(b)
	now := time.Now().UnixMilli()
	// The refused batch claims a later max timestamp than the good ones, so that, were it
	// stored, the timestamp searches below would have to read it.
	records := bad(now + 20)
	if len(records) > 1048588 {
		t.Fatalf("BUG: a %d-byte batch is over max.message.bytes and would not reach the records check", len(records))
	}
	produceOK(t, c, name, 0, makeBatch(0, rec{[]byte("k0"), []byte("v0"), now}, rec{[]byte("k1"), []byte("v1"), now + 1}))
	rssBefore, err := b.RSS()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int16{3, 8, 11} {
		p := c.do(produceReq(v, -1, producePart{name, 0, records})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != want.Code {
			t.Errorf("Produce v%d: got %s, want %s", v, errName(p.ErrorCode), errName(want.Code))
		} else if v >= 8 && (p.ErrorMessage == nil || *p.ErrorMessage == "") {
			t.Errorf("Produce v%d: %s without an error message", v, errName(p.ErrorCode))
		}
	}
	produceOK(t, c, name, 0, makeBatch(0, rec{[]byte("k2"), []byte("v2"), now + 10}, rec{[]byte("k3"), []byte("v3"), now + 11}))
	for _, q := range []struct{ ts, want int64 }{{now, 0}, {now + 1, 1}, {now + 10, 2}, {now + 11, 3}} {
		p := listOffset(t, c, 7, name, 0, q.ts)
		if p.ErrorCode != 0 || p.Offset != q.want {
			t.Errorf("ListOffsets by timestamp now+%d: %s, offset %d; want offset %d", q.ts-now, errName(p.ErrorCode), p.Offset, q.want)
		}
	}
	rssAfter, err := b.RSS()
	if err != nil {
		t.Fatal(err)
	}
	// Decompressing a bomb whole would take at least the 64 MiB bound (1 GiB without one);
	// streaming it through a small window keeps the broker's memory flat.
	if grew := rssAfter - rssBefore; grew > 32<<20 {
		t.Errorf("broker RSS grew by %d MiB (%d -> %d MiB)", grew>>20, rssBefore>>20, rssAfter>>20)
	}
	t.Logf("broker RSS %.1f -> %.1f MiB", float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20))
	batches, hw := fetchAll(t, c, name, 0)
	if hw != 4 || len(batches) != 2 {
		t.Fatalf("partition holds %d batches up to offset %d, want the 2 good ones up to 4", len(batches), hw)
	}
	consumeValues(ctx, t, b.Addr, name, []string{"v0", "v1", "v2", "v3"})
	checkNoBug(t, b, mark)
}

// consumeValues reads topic partition 0 from the start with a franz-go consumer and fails t
// unless it decodes exactly want, in order, before the test's deadline.
func consumeValues(ctx context.Context, t *testing.T, addr, topic string, want []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatalf("cannot create consumer: %v", err)
	}
	defer cl.Close()
	var got []string
	for len(got) < len(want) {
		fs := cl.PollFetches(ctx)
		for _, fe := range fs.Errors() {
			t.Fatalf("consumer of %s/%d: %v (after %q)", fe.Topic, fe.Partition, fe.Err, got)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("consumer read %q, want %q", got, want)
	}
}
