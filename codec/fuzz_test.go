package codec

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// genCorpus rewrites testdata/fuzz from seeds built with kmsg:
// go test ./codec -run TestGenerateFuzzCorpus -gencorpus
var genCorpus = flag.Bool("gencorpus", false, "rewrite the seed corpora in testdata/fuzz")

// fuzzSeedBatches are valid batches of every codec and shape.
func fuzzSeedBatches(tb testing.TB) [][]byte {
	var out [][]byte
	for _, c := range allCompressions {
		out = append(out, buildBatch(tb, batchSpec{compression: c, baseTimestamp: 1000, records: []testRecord{
			{tsDelta: 0, key: []byte("k"), value: []byte("value"), headers: []RecordHeader{{Key: []byte("h"), Value: []byte("v")}}},
			{tsDelta: 7, value: bytes.Repeat([]byte("ab"), 40)},
		}}))
	}
	out = append(out, buildBatch(tb, batchSpec{}))
	out = append(out, buildBatch(tb, batchSpec{attrs: attrControl | attrTransactional, records: simpleRecords(1, 4)}))
	out = append(out, buildBatch(tb, batchSpec{attrs: attrLogAppendTime, records: simpleRecords(3, 4)}))
	return out
}

// fuzzSeedFrames are valid request frames: every key at its max version with
// default fields, and produce requests with records.
func fuzzSeedFrames(tb testing.TB) [][]byte {
	var out [][]byte
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	for k := int16(0); k <= maxScannedKey; k++ {
		req := kmsg.RequestForKey(k)
		if req == nil {
			continue
		}
		req.SetVersion(req.MaxVersion())
		out = append(out, f.AppendRequest(nil, req, 1)[4:])
	}
	batch := fuzzSeedBatches(tb)[1]
	for _, v := range []int16{3, 9, 13} {
		out = append(out, produceFrame(tb, v, batch))
	}
	return out
}

func FuzzParseRequestHeader(f *testing.F) {
	for _, fr := range fuzzSeedFrames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := ParseRequestHeader(frame)
		if err != nil {
			if body != nil {
				t.Fatalf("body with error %v", err)
			}
			return
		}
		if len(body) > len(frame)-8 {
			t.Fatalf("body %d bytes of a %d-byte frame", len(body), len(frame))
		}
		if _, ok := MaxVersion(h.APIKey); !ok {
			t.Fatalf("unknown key %d accepted", h.APIKey)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for _, fr := range fuzzSeedFrames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		before := decodePanics.Get()
		h, body, err := ParseRequestHeader(frame)
		if err != nil {
			return
		}
		req, err := DecodeRequest(h, body)
		if decodePanics.Get() != before {
			t.Fatalf("kmsg panicked (recovered): %v", err)
		}
		if err == nil {
			_ = req.AppendTo(nil) // a decoded request must re-encode
		}
	})
}

func FuzzValidateBatch(f *testing.F) {
	for _, b := range fuzzSeedBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkValidatedBatch(t, b)
		// Most mutations break the CRC; fixing it reaches the checks behind it.
		if len(b) > posAttributes {
			c := bytes.Clone(b)
			fixCRC(c)
			checkValidatedBatch(t, c)
		}
	})
}

// checkValidatedBatch checks what a batch that passes ValidateBatch promises.
func checkValidatedBatch(t *testing.T, b []byte) {
	h, err := ValidateBatch(b)
	if err != nil {
		return
	}
	if h.Size() != len(b) || h.Magic != 2 {
		t.Fatalf("accepted %+v for %d bytes", h, len(b))
	}
	batch, rest, err := NextBatch(b)
	if err != nil || len(rest) != 0 || len(batch) != len(b) {
		t.Fatalf("NextBatch disagrees: %v", err)
	}
	c := bytes.Clone(b)
	SetBaseOffset(c, 1<<50)
	SetPartitionLeaderEpoch(c, 3)
	if _, err := ValidateBatch(c); err != nil {
		t.Fatalf("patch broke the batch: %v", err)
	}
	_ = ForEachRecord(b, 1<<20, func(*Record) bool { return true })
}

func FuzzSplitBatches(f *testing.F) {
	seeds := fuzzSeedBatches(f)
	f.Add(bytes.Join(seeds, nil))
	for _, b := range seeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, records []byte) {
		batches, err := SplitBatches(records)
		if err != nil {
			return
		}
		n := 0
		for _, b := range batches {
			h, err := ParseBatchHeader(b)
			if err != nil || h.Size() != len(b) {
				t.Fatalf("batch of %d bytes, header %+v, %v", len(b), h, err)
			}
			n += len(b)
		}
		if n != len(records) {
			t.Fatalf("batches cover %d of %d bytes", n, len(records))
		}
	})
}

func FuzzRecords(f *testing.F) {
	for _, b := range fuzzSeedBatches(f) {
		f.Add(b, int64(1003))
	}
	f.Fuzz(func(t *testing.T, batch []byte, ts int64) {
		const limit = 1 << 20
		var n int32
		err := ForEachRecord(batch, limit, func(r *Record) bool {
			n++
			return true
		})
		if err == nil {
			if h, _ := ParseBatchHeader(batch); n != h.NumRecords {
				t.Fatalf("%d records, header says %d", n, h.NumRecords)
			}
		}
		_, _, _, _ = FindOffsetByTimestamp(batch, ts, limit)
		for _, c := range allCompressions[1:] {
			if out, err := Decompress(c, nil, batch, limit); err == nil && len(out) > limit {
				t.Fatalf("%s: %d bytes past the limit", c, len(out))
			}
		}
	})
}

// fuzzSeedRecordBatches are fuzzSeedBatches and batches that ValidateRecords must refuse:
// garbage records, a lying record count, an xerial-framed batch and a small bomb.
func fuzzSeedRecordBatches(tb testing.TB) [][]byte {
	out := fuzzSeedBatches(tb)
	raw := encodeRecords(simpleRecords(3, 10))
	out = append(out,
		rewrapBatch(tb, CompressionSnappy, javaXerial(raw), 3, true),
		rewrapBatch(tb, CompressionNone, raw, 4, false),
		rewrapBatch(tb, CompressionGzip, raw[:len(raw)-3], 3, false),
		rewrapBatch(tb, CompressionZstd, bytes.Repeat([]byte{0x5a}, 64), 2, false),
		rewrapBatch(tb, CompressionGzip, bombRecord(2<<20), 1, false),
	)
	return out
}

// FuzzValidateRecords checks the produce-time record walk against ForEachRecord, which
// parses the same format from a fully decompressed buffer: what ValidateRecords accepts
// must parse there too, as NumRecords records at offsets base+i, and ScanRecords must see
// the same offsets and timestamps. Neither may panic on any input.
func FuzzValidateRecords(f *testing.F) {
	for _, b := range fuzzSeedRecordBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkValidatedRecords(t, b)
		if len(b) > posAttributes {
			c := bytes.Clone(b)
			fixCRC(c)
			checkValidatedRecords(t, c)
		}
	})
}

func checkValidatedRecords(t *testing.T, b []byte) {
	const limit = 1 << 20
	type seen struct{ off, ts int64 }
	var scanned []seen
	scanErr := ScanRecords(b, limit, func(off, ts int64) bool {
		scanned = append(scanned, seen{off, ts})
		return true
	})
	if err := ValidateRecords(b, limit); err != nil {
		return
	}
	if scanErr != nil {
		t.Fatalf("ValidateRecords accepts what ScanRecords refuses: %v", scanErr)
	}
	h, _ := ParseBatchHeader(b)
	var parsed []seen
	err := ForEachRecord(b, limit, func(r *Record) bool {
		parsed = append(parsed, seen{r.Offset, r.Timestamp})
		return true
	})
	if err != nil {
		t.Fatalf("ValidateRecords accepts what ForEachRecord refuses: %v", err)
	}
	if len(parsed) != int(h.NumRecords) || len(scanned) != len(parsed) {
		t.Fatalf("%d records parsed, %d scanned, header says %d", len(parsed), len(scanned), h.NumRecords)
	}
	for i, p := range parsed {
		if p.off != h.BaseOffset+int64(i) || scanned[i] != p {
			t.Fatalf("record %d: parsed %+v, scanned %+v, base offset %d", i, p, scanned[i], h.BaseOffset)
		}
	}
}

// TestGenerateFuzzCorpus writes the seeds as corpus files, so that plain
// `go test` replays them and -fuzz starts from them.
func TestGenerateFuzzCorpus(t *testing.T) {
	if !*genCorpus {
		t.Skip("run with -gencorpus to rewrite testdata/fuzz")
	}
	frames, batches := fuzzSeedFrames(t), fuzzSeedBatches(t)
	write := func(target string, i int, values ...string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := "go test fuzz v1\n"
		for _, v := range values {
			data += v + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lit := func(b []byte) string { return "[]byte(" + strconv.Quote(string(b)) + ")" }
	for i, fr := range frames {
		write("FuzzParseRequestHeader", i, lit(fr))
		write("FuzzDecodeRequest", i, lit(fr))
	}
	for i, b := range fuzzSeedRecordBatches(t) {
		write("FuzzValidateRecords", i, lit(b))
	}
	for i, b := range batches {
		write("FuzzValidateBatch", i, lit(b))
		write("FuzzSplitBatches", i, lit(b))
		write("FuzzRecords", i, lit(b), "int64(1003)")
	}
	write("FuzzSplitBatches", len(batches), lit(bytes.Join(batches, nil)))
}
