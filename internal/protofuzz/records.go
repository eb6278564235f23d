package protofuzz

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Compression codecs of the record batch attributes.
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bombs holds compressed record sections that decompress to far more than any limit: each
// is valid compressed data of zero bytes, which parse as records of length 0 (Kafka
// rejects them) or simply exceed max.message.bytes. Built once per process.
type bombs struct {
	gzip, zstd []byte
}

// bombBytes is what each bomb decompresses to.
const bombBytes = 1 << 30

func makeBombs() (*bombs, error) {
	// A stream of concatenated members (gzip) or frames (zstd) decodes as one: compress
	// 16 MiB of zeros once and repeat it, instead of compressing a GiB.
	const chunk = 16 << 20
	zeros := make([]byte, chunk)
	var gz bytes.Buffer
	gw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := gw.Write(zeros); err != nil {
		return nil, err
	}
	if err := gw.Close(); err != nil {
		return nil, err
	}
	zs := zstdEncoder.EncodeAll(zeros, nil)
	// deflate cannot do better than ~1:1000: 256 MiB of gzip is ~256 KiB; zstd's 1 GiB
	// is a few KiB.
	return &bombs{
		gzip: bytes.Repeat(gz.Bytes(), 256<<20/chunk),
		zstd: bytes.Repeat(zs, bombBytes/chunk),
	}, nil
}

// zstdEncoder compresses with EncodeAll, which is safe for concurrent use.
var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))

// record encodes one v2 record (length-prefixed) with the given offset delta.
func record(delta int32, key, value []byte, headers int) []byte {
	var r []byte
	r = kbin.AppendInt8(r, 0)
	r = kbin.AppendVarlong(r, int64(delta))
	r = kbin.AppendVarint(r, delta)
	r = appendVarBytes(r, key)
	r = appendVarBytes(r, value)
	r = kbin.AppendVarint(r, int32(headers))
	for i := range headers {
		r = appendVarBytes(r, []byte{'h', byte('0' + i%10)})
		r = appendVarBytes(r, value[:min(len(value), 8)])
	}
	return append(kbin.AppendVarint(nil, int32(len(r))), r...)
}

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return kbin.AppendVarint(b, -1)
	}
	return append(kbin.AppendVarint(b, int32(len(v))), v...)
}

// batch encodes a v2 record batch around records (already compressed as attributes
// say), with a valid length and CRC32C whatever the records hold.
func batch(now int64, attrs int16, numRecords int32, producerID int64, epoch int16, seq int32, records []byte) []byte {
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs, LastOffsetDelta: numRecords - 1,
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: producerID, ProducerEpoch: epoch,
		FirstSequence: seq, NumRecords: numRecords, Records: records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))
	return raw
}

// compress compresses p with codec; an error leaves p as is (the batch is then garbage,
// which is fine for a fuzzer).
func compress(codec int, p []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch codec {
	case codecGzip:
		w = gzip.NewWriter(&buf)
	case codecSnappy:
		// Kafka's snappy is the xerial framing or raw snappy; raw block format is what
		// franz-go sends for small batches.
		return s2.EncodeSnappy(nil, p)
	case codecLZ4:
		w = lz4.NewWriter(&buf)
	case codecZstd:
		return zstdEncoder.EncodeAll(p, nil)
	default:
		return p
	}
	if _, err := w.Write(p); err != nil {
		return p
	}
	if err := w.Close(); err != nil {
		return p
	}
	return buf.Bytes()
}

// records returns a produce request's records field: valid batches, batches with a valid
// CRC around garbage records, compression bombs, or plain garbage.
func (g *gen) records() []byte {
	b := g.recordsOnce()
	if len(b) > g.budget {
		return nil
	}
	g.budget -= len(b)
	return b
}

func (g *gen) recordsOnce() []byte {
	r := g.rng
	codec := r.IntN(5)
	switch x := r.IntN(100); {
	case x < 45: // valid batches, possibly several
		var out []byte
		for range 1 + r.IntN(2) {
			n := 1 + r.IntN(8)
			var recs []byte
			for i := range n {
				recs = append(recs, record(int32(i), g.bytesN(r.IntN(20)), g.bytesN(r.IntN(300)), r.IntN(3))...)
			}
			pid, epoch, seq := int64(-1), int16(-1), int32(-1)
			if r.IntN(4) == 0 {
				pid, epoch, seq = r.Int64N(1000), int16(r.IntN(3)), int32(r.IntN(10))
			}
			out = append(out, batch(g.now(), int16(codec), int32(n), pid, epoch, seq, compress(codec, recs))...)
		}
		return out
	case x < 65: // valid CRC, garbage records (raw or compressed)
		n := int32(1 + r.IntN(5))
		if r.IntN(5) == 0 {
			n = g.int32()
		}
		junk := g.bytesN(r.IntN(2000))
		if r.IntN(2) == 0 {
			junk = compress(codec, junk)
		} else if codec != codecNone && r.IntN(2) == 0 {
			// Records that parse but claim lengths past their end, then compressed.
			junk = compress(codec, append(kbin.AppendVarint(nil, 1<<20), junk...))
		}
		return batch(g.now(), int16(codec), n, -1, -1, -1, junk)
	case x < 72: // gzip bomb
		return batch(g.now(), codecGzip, int32(1+r.IntN(1000)), -1, -1, -1, g.bombs.gzip)
	case x < 79: // zstd bomb
		return batch(g.now(), codecZstd, int32(1+r.IntN(1000)), -1, -1, -1, g.bombs.zstd)
	case x < 87: // a valid batch with one field spoiled after its CRC was computed
		b := batch(g.now(), codecNone, 1, -1, -1, -1, record(0, nil, g.bytesN(50), 0))
		b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		return b
	case x < 93:
		return nil
	default:
		return g.bytesN(r.IntN(500))
	}
}

// now is a batch timestamp: around the time of writing, from the request's randomness so
// that a request is the same whenever it is regenerated.
func (g *gen) now() int64 { return 1_796_000_000_000 + g.rng.Int64N(1_000_000_000) }

// canaryBatch is one valid uncompressed batch of the given records.
func canaryBatch(kvs [][2][]byte) []byte {
	var recs []byte
	for i, kv := range kvs {
		recs = append(recs, record(int32(i), kv[0], kv[1], 0)...)
	}
	return batch(time.Now().UnixMilli(), codecNone, int32(len(kvs)), -1, -1, -1, recs)
}

// randomBytes fills n bytes from r.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := i; j < min(i+8, n); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}
