package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// rewrapBatch replaces the records of a valid batch with recs (compressed with the batch's
// codec unless raw) and sets the record count and last offset delta, with a fresh CRC:
// the batch passes ValidateBatch and only a walk of its records can refuse it.
func rewrapBatch(t testing.TB, c Compression, recs []byte, count int32, raw bool) []byte {
	t.Helper()
	if !raw {
		var err error
		if recs, err = Compress(c, nil, recs); err != nil {
			t.Fatal(err)
		}
	}
	b := buildBatch(t, batchSpec{compression: c, records: simpleRecords(1, 1)})[:BatchHeaderLen]
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[posBatchLength:], uint32(len(b)-batchLengthOverhead))
	binary.BigEndian.PutUint32(b[posNumRecords:], uint32(count))
	binary.BigEndian.PutUint32(b[posLastOffsetDelta:], uint32(max(count-1, 0)))
	fixCRC(b)
	if _, err := ValidateBatch(b); err != nil {
		t.Fatalf("BUG: rewrapped batch is invalid: %v", err)
	}
	return b
}

// rawRecord encodes one record from its parts, each appended as given, so a test can
// break any of them.
func rawRecord(parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func vi(v int64) []byte { return binary.AppendVarint(nil, v) }

// goodParts are the parts of a valid record at offset delta 0: attributes, timestamp
// delta, offset delta, key "k", value "v", no headers.
func goodParts() [][]byte {
	return [][]byte{{0}, vi(0), vi(0), vi(1), []byte("k"), vi(1), []byte("v"), vi(0)}
}

func withPart(i int, p []byte) [][]byte {
	parts := goodParts()
	parts[i] = p
	return parts
}

func TestValidateRecordsAcceptsWhatKmsgEncoded(t *testing.T) {
	recs := []testRecord{
		{tsDelta: 0, key: []byte("k0"), value: []byte("v0")},
		{tsDelta: 5, key: nil, value: []byte{}},
		{tsDelta: -3, key: []byte{}, value: nil, headers: []RecordHeader{{Key: []byte("h"), Value: []byte("x")}, {Key: []byte{}, Value: nil}}},
		{tsDelta: 1 << 40, key: bytes.Repeat([]byte("K"), 300), value: bytes.Repeat([]byte("V"), 3*streamWindow+7)},
	}
	for _, c := range allCompressions {
		b := buildBatch(t, batchSpec{baseOffset: 1000, baseTimestamp: 1_700_000_000_000, compression: c, records: recs})
		if err := ValidateRecords(b, 1<<20); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		i := 0
		err := ScanRecords(b, 1<<20, func(off, ts int64) bool {
			if off != 1000+int64(i) || ts != 1_700_000_000_000+recs[i].tsDelta {
				t.Fatalf("%s record %d: offset %d timestamp %d", c, i, off, ts)
			}
			i++
			return true
		})
		if err != nil || i != len(recs) {
			t.Fatalf("%s: scanned %d records, %v", c, i, err)
		}
	}
	xb := rewrapBatch(t, CompressionSnappy, javaXerial(encodeRecords(recs)), int32(len(recs)), true)
	if err := ValidateRecords(xb, 1<<20); err != nil {
		t.Fatalf("xerial snappy: %v", err)
	}
}

// TestValidateRecordsRefusesMalformed covers the record faults Kafka's LogValidator refuses
// with INVALID_RECORD, uncompressed and compressed.
func TestValidateRecordsRefusesMalformed(t *testing.T) {
	good := rawRecord(goodParts()...)
	second := rawRecord(withPart(2, vi(1))...)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 200)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	cases := []struct {
		what  string
		recs  []byte
		count int32
	}{
		{"garbage", garbage, 3},
		{"fewer records than counted", good, 2},
		{"more records than counted", append(bytes.Clone(good), second...), 1},
		{"trailing bytes after the last record", append(bytes.Clone(good), 0, 0), 1},
		{"offset delta 1 for record 0", rawRecord(withPart(2, vi(1))...), 1},
		{"offset deltas 0, 0", append(bytes.Clone(good), good...), 2},
		{"negative offset delta", rawRecord(withPart(2, vi(-1))...), 1},
		{"record length 0", vi(0), 1},
		{"negative record length", vi(-5), 1},
		{"record length past the records", append(vi(100), good[1:]...), 1},
		{"record length beyond its fields", append(vi(int64(len(good))), append(good[1:], 0)...), 1},
		{"record length short of its fields", append(vi(int64(len(good)-2)), good[1:]...), 1},
		{"key length past the record", rawRecord(withPart(3, vi(50))...), 1},
		{"key length -2", rawRecord(withPart(3, vi(-2))...), 1},
		{"value length past the record", rawRecord(withPart(5, vi(50))...), 1},
		{"negative header count", rawRecord(withPart(7, vi(-1))...), 1},
		{"header count past the record", rawRecord(withPart(7, vi(1000))...), 1},
		{"null header key", rawRecord(withPart(7, append(vi(1), append(vi(-1), vi(-1)...)...))...), 1},
		{"header value past the record", rawRecord(withPart(7, append(vi(1), append(vi(0), vi(9)...)...))...), 1},
		{"varint over 64 bits", rawRecord(withPart(1, bytes.Repeat([]byte{0xff}, 11))...), 1},
		{"records end inside a varint", append(vi(3), 0, 0x80), 1},
	}
	for _, tc := range cases {
		for _, c := range allCompressions {
			b := rewrapBatch(t, c, tc.recs, tc.count, false)
			err := ValidateRecords(b, 1<<20)
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("%s, %s: got %v, want %v", tc.what, c, err, ErrInvalidRecord)
			}
		}
	}
}

// TestValidateRecordsRefusesUndecodableCompression: a valid CRC around bytes the codec
// cannot decode is CORRUPT_MESSAGE, including a stream cut short or with a bad checksum.
func TestValidateRecordsRefusesUndecodableCompression(t *testing.T) {
	recs := encodeRecords(simpleRecords(20, 100))
	for _, c := range allCompressions[1:] {
		comp, err := Compress(c, nil, recs)
		if err != nil {
			t.Fatal(err)
		}
		bad := map[string][]byte{
			"garbage":   bytes.Repeat([]byte{0xa5}, 64),
			"cut short": comp[:len(comp)/2],
		}
		if c != CompressionSnappy { // raw snappy blocks carry no checksum
			flipped := bytes.Clone(comp)
			flipped[len(flipped)-2] ^= 0x40
			bad["bit flipped near the end"] = flipped
		}
		for what, payload := range bad {
			b := rewrapBatch(t, c, payload, 20, true)
			if err := ValidateRecords(b, 1<<20); !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("%s, %s: got %v, want a corrupt batch or invalid record", c, what, err)
			} else if what == "garbage" && !errors.Is(err, ErrCorruptBatch) {
				t.Errorf("%s, %s: got %v, want %v", c, what, err, ErrCorruptBatch)
			}
		}
	}
}

// bombHead returns the start of a valid record whose value is size bytes: everything up to
// the value; the value and a header count of 0 (one byte) must follow.
func bombHead(size int) []byte {
	body := bytes.Join([][]byte{{0}, vi(0), vi(0), vi(-1), vi(int64(size))}, nil)
	return append(vi(int64(len(body)+size+1)), body...)
}

// bombRecord returns one valid record whose value is size zero bytes.
func bombRecord(size int) []byte {
	return append(append(bombHead(size), make([]byte, size)...), vi(0)...)
}

// TestValidateRecordsStopsBombs: records that decompress past the limit fail, records at
// the limit pass, with every codec.
func TestValidateRecordsStopsBombs(t *testing.T) {
	const limit = 4 << 20
	for _, c := range append(allCompressions[1:], -1 /* xerial */) {
		for _, size := range []int{limit, limit + 1, 4 * limit} {
			v := size - 16 // the value size that makes size bytes of records
			for len(bombHead(v))+v+1 < size {
				v++
			}
			recs := bombRecord(v)
			if len(recs) != size {
				t.Fatalf("BUG: no record of %d bytes", size)
			}
			name, codec := c.String(), c
			var b []byte
			if c == -1 {
				name, codec = "xerial", CompressionSnappy
				b = rewrapBatch(t, codec, javaXerial(recs), 1, true)
			} else {
				b = rewrapBatch(t, codec, recs, 1, false)
			}
			err := ValidateRecords(b, limit)
			if len(recs) <= limit {
				if err != nil {
					t.Fatalf("%s, %d bytes of records: %v", name, len(recs), err)
				}
				continue
			}
			if !errors.Is(err, ErrDecompressedTooLarge) {
				t.Fatalf("%s, %d bytes of records: got %v, want %v", name, len(recs), err, ErrDecompressedTooLarge)
			}
		}
	}
}

// TestValidateRecordsStreamsBombs checks that refusing a 256 MiB bomb allocates little:
// the records are walked through a window, never decompressed whole.
func TestValidateRecordsStreamsBombs(t *testing.T) {
	writers := map[Compression]func(io.Writer) (io.WriteCloser, error){
		CompressionGzip: func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil },
		CompressionLZ4:  func(w io.Writer) (io.WriteCloser, error) { return lz4.NewWriter(w), nil },
		CompressionZstd: func(w io.Writer) (io.WriteCloser, error) {
			return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		},
	}
	const size, limit = 256 << 20, 64 << 20
	for c, newWriter := range writers {
		t.Run(c.String(), func(t *testing.T) {
			var out bytes.Buffer
			w, err := newWriter(&out)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(bombHead(size))
			zeros := make([]byte, 1<<20)
			for range size / len(zeros) {
				_, _ = w.Write(zeros)
			}
			_, _ = w.Write(vi(0))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			b := rewrapBatch(t, c, out.Bytes(), 1, true)
			_ = ValidateRecords(b, limit) // warm the pools
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err = ValidateRecords(b, limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrDecompressedTooLarge) {
				t.Fatalf("got %v, want %v", err, ErrDecompressedTooLarge)
			}
			// A decoder taken fresh from its pool allocates its history (zstd: the frame's
			// window, 8 MiB from this encoder); decompressing whole would take the 64 MiB.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Fatalf("refusing a %d MiB bomb from %d KiB allocated %d KiB", size>>20, out.Len()>>10, grew>>10)
			}
		})
	}
}

func TestDecompressedLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{1048588, 1048588 * 64}, {0, 0}, {-1, 0}, {1 << 30, MaxDecompressedBatch}} {
		if got := DecompressedLimit(tc.in); got != tc.want {
			t.Errorf("DecompressedLimit(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestValidateRecordsAllocations: an uncompressed batch is walked in place, allocating
// nothing; a compressed one reuses pooled state.
func TestValidateRecordsAllocations(t *testing.T) {
	for _, c := range allCompressions {
		b := buildBatch(t, batchSpec{compression: c, records: simpleRecords(64, 200)})
		_ = ValidateRecords(b, 1<<20)
		allocs := testing.AllocsPerRun(20, func() {
			if err := ValidateRecords(b, 1<<20); err != nil {
				t.Fatal(err)
			}
		})
		if c == CompressionNone && allocs > 0 {
			t.Errorf("%s: %.0f allocations per batch, want 0", c, allocs)
		}
		t.Logf("%s: %.0f allocations per batch", c, allocs)
	}
}

// TestScanRecordsReadsCompactedBatches: a stored batch may have gaps in its offset deltas
// (compaction keeps offsets); ScanRecords reads it, ValidateRecords (a client's batch)
// refuses it, and neither accepts deltas that go back or past the batch's range.
func TestScanRecordsReadsCompactedBatches(t *testing.T) {
	rec := func(delta int64) []byte { return rawRecord(withPart(2, vi(delta))...) }
	build := func(lastDelta int32, deltas ...int64) []byte {
		var recs []byte
		for _, d := range deltas {
			recs = append(recs, rec(d)...)
		}
		b := rewrapBatch(t, CompressionNone, recs, int32(len(deltas)), false)
		binary.BigEndian.PutUint32(b[posLastOffsetDelta:], uint32(lastDelta))
		fixCRC(b)
		return b
	}
	var offs []int64
	err := ScanRecords(build(5, 0, 2, 5), 1<<20, func(off, _ int64) bool { offs = append(offs, off); return true })
	if err != nil || len(offs) != 3 || offs[0] != 0 || offs[1] != 2 || offs[2] != 5 {
		t.Fatalf("compacted batch: offsets %v, %v", offs, err)
	}
	if err := ValidateRecords(build(5, 0, 2, 5), 1<<20); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("ValidateRecords of a batch with gaps: %v, want %v", err, ErrInvalidRecord)
	}
	for _, deltas := range [][]int64{{0, 2, 2}, {0, 3, 1}, {0, 2, 6}} {
		if err := ScanRecords(build(5, deltas...), 1<<20, func(int64, int64) bool { return true }); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("offset deltas %v in a batch up to delta 5: %v, want %v", deltas, err, ErrInvalidRecord)
		}
	}
}
