package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/klauspost/compress/snappy/xerial"
)

const testMaxDecompressed = 8 << 20

// javaXerial frames src the way the Java client's SnappyOutputStream does
// (magic, version 1, compatible 1, then 32 KiB chunks).
func javaXerial(src []byte) []byte { return xerial.Encode(nil, src) }

func TestDecompressRoundTrips(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{1})
	inputs := map[string][]byte{
		"empty":        {},
		"small":        []byte("hello kafscale"),
		"compressible": bytes.Repeat([]byte("abcdefgh"), 100_000),
		"random":       func() []byte { b := make([]byte, 200_000); _, _ = rng.Read(b); return b }(),
	}
	for name, in := range inputs {
		for _, c := range allCompressions {
			comp, err := Compress(c, nil, in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decompress(c, []byte("prefix"), comp, testMaxDecompressed)
			if err != nil || !bytes.Equal(got, append([]byte("prefix"), in...)) {
				t.Fatalf("%s/%s: err %v, got %d bytes", name, c, err, len(got))
			}
		}
		got, err := Decompress(CompressionSnappy, nil, javaXerial(in), testMaxDecompressed)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%s/xerial: err %v, got %d bytes", name, err, len(got))
		}
	}
}

// TestDecompressStopsBombs guards against a small batch expanding into a huge
// allocation: output beyond the limit fails, output at the limit passes.
func TestDecompressStopsBombs(t *testing.T) {
	const limit = 1 << 20
	zeros := make([]byte, 16<<20)
	for _, c := range append(allCompressions, -1 /* xerial */) {
		for _, size := range []int{limit, limit + 1, len(zeros)} {
			name, codec := c.String(), c
			var comp []byte
			if c == -1 {
				name, codec, comp = "xerial", CompressionSnappy, javaXerial(zeros[:size])
			} else {
				comp, _ = Compress(c, nil, zeros[:size])
			}
			got, err := Decompress(codec, nil, comp, limit)
			if size <= limit {
				if err != nil || len(got) != size {
					t.Fatalf("%s %d: %v", name, size, err)
				}
				continue
			}
			if !errors.Is(err, ErrDecompressedTooLarge) {
				t.Fatalf("%s %d: err %v", name, size, err)
			}
			if cap(got) > 4*limit {
				t.Fatalf("%s %d: allocated %d bytes", name, size, cap(got))
			}
		}
	}
}

func TestDecompressRejectsGarbage(t *testing.T) {
	garbage := [][]byte{{}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 100), append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 50, 1)}
	for _, c := range []Compression{CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		for i, g := range garbage {
			if _, err := Decompress(c, nil, g, 1<<20); err == nil && len(g) > 0 {
				t.Fatalf("%s garbage %d: decoded", c, i)
			}
		}
	}
	if _, err := Decompress(6, nil, []byte{1}, 10); !errors.Is(err, ErrUnsupportedCompression) {
		t.Fatalf("codec 6: %v", err)
	}
}

func TestForEachRecordDecodesWhatKmsgEncoded(t *testing.T) {
	recs := []testRecord{
		{tsDelta: 0, key: []byte("k0"), value: []byte("v0")},
		{tsDelta: 5, key: nil, value: []byte{}},
		{tsDelta: -3, key: []byte{}, value: nil, headers: []RecordHeader{{Key: []byte("h"), Value: []byte("x")}, {Key: []byte{}, Value: nil}}},
		{tsDelta: 1 << 40, key: bytes.Repeat([]byte("K"), 300), value: bytes.Repeat([]byte("V"), 70_000)},
	}
	for _, c := range allCompressions {
		b := buildBatch(t, batchSpec{baseOffset: 1000, baseTimestamp: 1_700_000_000_000, compression: c, records: recs})
		i := 0
		err := ForEachRecord(b, testMaxDecompressed, func(r *Record) bool {
			want := recs[i]
			if r.Offset != 1000+int64(i) || r.Timestamp != 1_700_000_000_000+want.tsDelta ||
				!bytesEqualNil(r.Key, want.key) || !bytesEqualNil(r.Value, want.value) || len(r.Headers) != len(want.headers) {
				t.Fatalf("%s record %d: got %+v", c, i, r)
			}
			for j, h := range r.Headers {
				if !bytesEqualNil(h.Key, want.headers[j].Key) || !bytesEqualNil(h.Value, want.headers[j].Value) {
					t.Fatalf("%s record %d header %d: %+v", c, i, j, h)
				}
			}
			i++
			return true
		})
		if err != nil || i != len(recs) {
			t.Fatalf("%s: %d records, %v", c, i, err)
		}
	}
}

// bytesEqualNil compares contents and nullness.
func bytesEqualNil(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestForEachRecordRejectsInconsistentBatches(t *testing.T) {
	tests := []struct {
		name string
		b    func() []byte
	}{
		{"fewer records than header", func() []byte {
			b := buildBatch(t, batchSpec{records: simpleRecords(3, 5)})
			b[posNumRecords+3] = 4
			return b
		}},
		{"more records than header", func() []byte {
			b := buildBatch(t, batchSpec{records: simpleRecords(3, 5)})
			b[posNumRecords+3] = 2
			return b
		}},
		{"record length past end", func() []byte {
			b := buildBatch(t, batchSpec{records: simpleRecords(1, 5)})
			b[BatchHeaderLen] = 0x7e
			return b
		}},
		{"truncated compressed records", func() []byte {
			b := buildBatch(t, batchSpec{compression: CompressionGzip, records: simpleRecords(3, 5)})
			b = b[:len(b)-3]
			setBatchLength(b)
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := ForEachRecord(tt.b(), testMaxDecompressed, func(*Record) bool { n++; return true })
			if err == nil {
				t.Fatalf("no error after %d records", n)
			}
		})
	}
}

// setBatchLength rewrites BatchLength to match len(b).
func setBatchLength(b []byte) {
	b[posBatchLength] = byte((len(b) - 12) >> 24)
	b[posBatchLength+1] = byte((len(b) - 12) >> 16)
	b[posBatchLength+2] = byte((len(b) - 12) >> 8)
	b[posBatchLength+3] = byte(len(b) - 12)
}

func TestFindOffsetByTimestamp(t *testing.T) {
	const base = 1_700_000_000_000
	// Timestamps are not monotonic: the answer is the first record at or
	// after the target, not the closest one.
	recs := []testRecord{{tsDelta: 10}, {tsDelta: 30}, {tsDelta: 20}, {tsDelta: 40}}
	type want struct {
		offset, ts int64
		found      bool
	}
	tests := []struct {
		name  string
		attrs int16
		ts    int64
		want  want
	}{
		{"before every record", 0, base, want{100, base + 10, true}},
		{"exact first", 0, base + 10, want{100, base + 10, true}},
		{"between, first at or after wins", 0, base + 15, want{101, base + 30, true}},
		{"exact later", 0, base + 40, want{103, base + 40, true}},
		{"after max timestamp", 0, base + 41, want{0, 0, false}},
		{"log append time: every record has max", attrLogAppendTime, base + 40, want{100, base + 40, true}},
	}
	for _, c := range allCompressions {
		for _, tt := range tests {
			b := buildBatch(t, batchSpec{baseOffset: 100, baseTimestamp: base, compression: c, attrs: tt.attrs, records: recs})
			off, ts, found, err := FindOffsetByTimestamp(b, tt.ts, testMaxDecompressed)
			if got := (want{off, ts, found}); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%s/%s: got %+v err %v, want %+v", c, tt.name, got, err, tt.want)
			}
		}
	}
}

// TestFindOffsetByTimestampSkipsOldBatches: a batch whose MaxTimestamp is
// below the target is answered from the header, without decompressing.
func TestFindOffsetByTimestampSkipsOldBatches(t *testing.T) {
	b := buildBatch(t, batchSpec{baseTimestamp: 1000, compression: CompressionZstd, records: simpleRecords(3, 10)})
	b[len(b)-1] ^= 0xff // corrupt the compressed records
	if _, _, found, err := FindOffsetByTimestamp(b, 5000, testMaxDecompressed); err != nil || found {
		t.Fatalf("found %v err %v", found, err)
	}
}

func TestFindOffsetByTimestampReportsDecompressionLimit(t *testing.T) {
	b := buildBatch(t, batchSpec{compression: CompressionLZ4, records: simpleRecords(100, 1000)})
	if _, _, _, err := FindOffsetByTimestamp(b, 0, 10_000); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("err %v", err)
	}
}
