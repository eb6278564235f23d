package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseBatchHeaderMatchesKmsg(t *testing.T) {
	b := buildBatch(t, batchSpec{
		baseOffset: 1 << 40, leaderEpoch: 7, baseTimestamp: 1_700_000_000_000, compression: CompressionZstd,
		attrs: attrTransactional, producerID: 99, producerEpoch: 3, baseSequence: 12, records: simpleRecords(4, 8),
	})
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: kb.FirstOffset, BatchLength: kb.Length, PartitionLeaderEpoch: kb.PartitionLeaderEpoch,
		Magic: kb.Magic, CRC: uint32(kb.CRC), Attributes: kb.Attributes, LastOffsetDelta: kb.LastOffsetDelta,
		BaseTimestamp: kb.FirstTimestamp, MaxTimestamp: kb.MaxTimestamp, ProducerID: kb.ProducerID,
		ProducerEpoch: kb.ProducerEpoch, BaseSequence: kb.FirstSequence, NumRecords: kb.NumRecords,
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if h.Compression() != CompressionZstd || !h.IsTransactional() || h.IsControl() || h.LogAppendTime() ||
		h.LastOffset() != 1<<40+3 || h.Size() != len(b) {
		t.Fatalf("helpers disagree: %+v", h)
	}
}

func TestValidateBatch(t *testing.T) {
	valid := func() []byte { return buildBatch(t, batchSpec{records: simpleRecords(3, 16)}) }
	tests := []struct {
		name string
		b    func() []byte
		want error // nil: valid
	}{
		{"valid", valid, nil},
		{"valid empty compacted batch", func() []byte {
			b := buildBatch(t, batchSpec{})
			binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 9)
			fixCRC(b)
			return b
		}, nil},
		{"magic 1", func() []byte { b := valid(); b[posMagic] = 1; return b }, ErrUnsupportedMagic},
		{"short message set v0", func() []byte { return make([]byte, 26) }, ErrUnsupportedMagic},
		{"shorter than magic", func() []byte { return make([]byte, 10) }, ErrCorruptBatch},
		{"header only, truncated", func() []byte { return valid()[:BatchHeaderLen-1] }, ErrCorruptBatch},
		{"one byte missing", func() []byte { b := valid(); return b[:len(b)-1] }, ErrCorruptBatch},
		{"one byte extra", func() []byte { return append(valid(), 0) }, ErrCorruptBatch},
		{"negative length", func() []byte {
			b := valid()
			binary.BigEndian.PutUint32(b[posBatchLength:], 0xffffffff)
			return b
		}, ErrCorruptBatch},
		{"records byte flipped", func() []byte { b := valid(); b[len(b)-1] ^= 1; return b }, ErrCorruptBatch},
		{"attributes flipped", func() []byte { b := valid(); b[posAttributes+1] ^= attrTransactional; return b }, ErrCorruptBatch},
		{"crc flipped", func() []byte { b := valid(); b[posCRC] ^= 0x80; return b }, ErrCorruptBatch},
		{"compression 5", func() []byte { b := valid(); b[posAttributes+1] |= 5; fixCRC(b); return b }, ErrUnsupportedCompression},
		{"negative record count", func() []byte {
			b := valid()
			binary.BigEndian.PutUint32(b[posNumRecords:], 0xffffffff)
			fixCRC(b)
			return b
		}, ErrInvalidRecord},
		{"more records than offsets", func() []byte {
			b := valid()
			binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 1)
			fixCRC(b)
			return b
		}, ErrInvalidRecord},
		{"negative last offset delta", func() []byte {
			b := valid()
			binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 0xffffffff)
			fixCRC(b)
			return b
		}, ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b()
			h, err := ValidateBatch(b)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if h.Size() != len(b) {
					t.Fatalf("size %d of %d", h.Size(), len(b))
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateBatchAcceptsEveryCompression(t *testing.T) {
	for _, c := range allCompressions {
		b := buildBatch(t, batchSpec{compression: c, records: simpleRecords(5, 100)})
		if h, err := ValidateBatch(b); err != nil || h.Compression() != c {
			t.Fatalf("%s: %v", c, err)
		}
	}
}

// TestPatchesKeepCRCValid: base offset and leader epoch lie outside the CRC,
// so assigning offsets in place needs no re-checksum.
func TestPatchesKeepCRCValid(t *testing.T) {
	b := buildBatch(t, batchSpec{records: simpleRecords(3, 16)})
	SetBaseOffset(b, 1234567890123)
	SetPartitionLeaderEpoch(b, 42)
	h, err := ValidateBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 1234567890123 || h.PartitionLeaderEpoch != 42 || h.LastOffset() != 1234567890125 {
		t.Fatalf("got %+v", h)
	}
}

func TestSplitBatches(t *testing.T) {
	b1 := buildBatch(t, batchSpec{records: simpleRecords(1, 1)})
	b2 := buildBatch(t, batchSpec{compression: CompressionGzip, records: simpleRecords(7, 30)})
	b3 := buildBatch(t, batchSpec{records: simpleRecords(2, 300)})
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name    string
		records []byte
		want    [][]byte
		wantErr bool
	}{
		{"empty", nil, nil, false},
		{"one", b1, [][]byte{b1}, false},
		{"three", cat(b1, b2, b3), [][]byte{b1, b2, b3}, false},
		{"trailing partial batch", cat(b1, b2[:len(b2)-1]), nil, true},
		{"trailing partial header", cat(b1, b2[:20]), nil, true},
		{"trailing byte", cat(b1, []byte{0}), nil, true},
		{"length below header", func() []byte {
			b := cat(b1)
			binary.BigEndian.PutUint32(b[posBatchLength:], 10)
			return b
		}(), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitBatches(tt.records)
			if tt.wantErr {
				if !errors.Is(err, ErrCorruptBatch) || got != nil {
					t.Fatalf("got %d batches, err %v", len(got), err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %d batches, err %v", len(got), err)
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) || cap(got[i]) != len(got[i]) {
					t.Fatalf("batch %d differs or cap not capped", i)
				}
				if _, err := ValidateBatch(got[i]); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
			}
		})
	}
}

func TestNextBatchWalksARange(t *testing.T) {
	var stored []byte
	for i := range 5 {
		b := buildBatch(t, batchSpec{records: simpleRecords(i+1, 10)})
		SetBaseOffset(b, int64(i*10))
		stored = append(stored, b...)
	}
	var offsets []int64
	for rest := stored; len(rest) > 0; {
		var batch []byte
		var err error
		if batch, rest, err = NextBatch(rest); err != nil {
			t.Fatal(err)
		}
		h, err := ValidateBatch(batch)
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, h.BaseOffset)
	}
	if len(offsets) != 5 || offsets[4] != 40 {
		t.Fatalf("offsets %v", offsets)
	}
	if _, _, err := NextBatch(nil); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("empty input: %v", err)
	}
}
