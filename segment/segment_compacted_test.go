package segment

import (
	"errors"
	"testing"
)

// TestCompactedSegmentsSayWhatTheyAre: BuildSegment refuses offsets that skip and writes
// version 1 without flags; BuildCompactedSegment accepts gaps (between chunks and inside
// them) and writes version 2 with FlagCompacted, which decodes back, so a reader of the
// bucket alone (fsck --rebuild) can tell compaction's gaps from lost data, and a reader
// knowing only version 1 rejects such a segment instead of misreading it.
func TestCompactedSegmentsSayWhatTheyAre(t *testing.T) {
	gappy := append(append(header61(0, 1, -1, -1, -1), header61(5, 0, -1, -1, -1)...), header61(9, 2, -1, -1, -1)...)
	if _, _, _, err := BuildSegment([16]byte{1}, 0, [][]byte{gappy}, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("BuildSegment with offsets that skip: %v, want ErrCorrupt", err)
	}
	parts, size, f, err := BuildCompactedSegment([16]byte{1}, 0, [][]byte{gappy}, 2*batchHeaderLen)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != FormatVersionFlags || !f.Compacted() || len(f.Extents) != 2 || f.Extents[0].LastOffset != 5 || f.Extents[1].BaseOffset != 9 {
		t.Fatalf("compacted footer: version %d flags %#x extents %+v", f.Version, f.Flags, f.Extents)
	}
	var obj []byte
	for _, p := range parts {
		obj = append(obj, p...)
	}
	got, err := DecodeFooter(obj, size)
	if err != nil || !got.Compacted() || got.Version != FormatVersionFlags {
		t.Fatalf("decoded: version %d flags %#x, %v", got.Version, got.Flags, err)
	}
	_, _, plain, err := BuildSegment([16]byte{1}, 0, [][]byte{header61(0, 3, -1, -1, -1)}, 1<<20)
	if err != nil || plain.Version != FormatVersion || plain.Compacted() {
		t.Fatalf("plain segment: version %d flags %#x, %v", plain.Version, plain.Flags, err)
	}
}
