package segment

import (
	"encoding/binary"
	"testing"

	"github.com/kafscale/kafscale/producer"
)

// header61 is a record batch of no records, enough for BuildSegment, which reads headers
// only: offsets [base, base+delta], a producer id (-1: not idempotent), epoch and first
// sequence.
func header61(base int64, delta int32, pid int64, pepoch int16, seq int32) []byte {
	b := make([]byte, batchHeaderLen)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], batchHeaderLen-batchLengthEnd)
	b[16] = 2 // magic
	binary.BigEndian.PutUint32(b[23:], uint32(delta))
	binary.BigEndian.PutUint64(b[batchMaxTsStart:], uint64(1000+base))
	binary.BigEndian.PutUint64(b[batchProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[batchProducerID+8:], uint16(pepoch))
	binary.BigEndian.PutUint32(b[batchProducerID+10:], uint32(seq))
	return b
}

// TestBuildSegmentChunksCarryProducerState: each chunk's producer-state delta holds the
// idempotent producers' last batches within it (at most producer.MaxBatches each), so a
// rebuild from footers alone restores producer state; non-idempotent batches add none.
func TestBuildSegmentChunksCarryProducerState(t *testing.T) {
	var data []byte
	off := int64(0)
	for i := range 8 { // producer 7: eight batches of 3 records
		data = append(data, header61(off, 2, 7, 1, int32(3*i))...)
		off += 3
	}
	data = append(data, header61(off, 0, -1, -1, -1)...) // not idempotent
	off++
	_, _, f, err := BuildSegment([16]byte{1}, 0, [][]byte{data}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Extents) != 1 {
		t.Fatalf("%d chunks, want 1", len(f.Extents))
	}
	recs, err := producer.DecodeRecords(f.Extents[0].ProducerState)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != producer.MaxBatches {
		t.Fatalf("%d producer records, want the last %d batches", len(recs), producer.MaxBatches)
	}
	last := recs[len(recs)-1]
	if last.ProducerID != 7 || last.Epoch != 1 || last.FirstSeq != 21 || last.LastSeq != 23 || last.BaseOffset != 21 || last.LastOffset != 23 {
		t.Fatalf("last record %+v, want producer 7 epoch 1 sequences 21-23 at offsets 21-23", last)
	}

	// Two chunks: each carries its own batches.
	_, _, f, err = BuildSegment([16]byte{1}, 0, [][]byte{data}, 3*batchHeaderLen)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range f.Extents[:2] {
		recs, err := producer.DecodeRecords(e.ProducerState)
		if err != nil || len(recs) != 3 || recs[0].BaseOffset != e.BaseOffset {
			t.Fatalf("chunk %d [%d, %d]: records %+v (%v), want its 3 batches", i, e.BaseOffset, e.LastOffset, recs, err)
		}
	}
	if e := f.Extents[len(f.Extents)-1]; e.LastOffset != off-1 {
		t.Fatalf("last chunk ends at %d, want %d", e.LastOffset, off-1)
	}
}
