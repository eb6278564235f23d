package fsck

import (
	"strconv"
	"testing"

	"github.com/kafscale/kafscale/segment"
)

func seg(key string, chunks ...[3]int64) *segCand {
	s := &segCand{obj: &Object{Key: key}}
	for _, c := range chunks {
		s.ext = append(s.ext, segment.Extent{BaseOffset: c[0], LastOffset: c[1], LeaderEpoch: int32(c[2])})
	}
	return s
}

func fl(key string, base, last int64, epoch int32) *flushCand {
	return &flushCand{key: key, ext: segment.Extent{BaseOffset: base, LastOffset: last, LeaderEpoch: epoch}}
}

// describePieces renders a fold as "source@from-last" items, gaps marked with "!".
func describePieces(r foldResult) []string {
	var out []string
	for _, p := range r.pieces {
		name := ""
		if p.seg != nil {
			name = p.seg.obj.Key
		} else {
			name = p.flush.key
		}
		if p.afterGap {
			name = "!" + name
		}
		out = append(out, name+"@"+itoa(p.from)+"-"+itoa(p.last))
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestFold(t *testing.T) {
	tests := []struct {
		name        string
		segs        []*segCand
		flush       []*flushCand
		want        []string
		start, next int64
	}{
		{name: "segments then the unmerged tail; merged flush extents not used twice",
			segs:  []*segCand{seg("s1", [3]int64{0, 49, 1}, [3]int64{50, 99, 1})},
			flush: []*flushCand{fl("f1", 0, 99, 1), fl("f2", 100, 149, 1)},
			want:  []string{"s1@0-99", "f2@100-149"}, start: 0, next: 150},
		{name: "the log start is the lowest offset held",
			segs: []*segCand{seg("s2", [3]int64{200, 299, 0})},
			want: []string{"s2@200-299"}, start: 200, next: 300},
		{name: "a segment is used from a chunk boundary inside it",
			segs: []*segCand{seg("s1", [3]int64{0, 99, 0}), seg("s2", [3]int64{50, 99, 0}, [3]int64{100, 199, 0})},
			want: []string{"s1@0-99", "s2@100-199"}, start: 0, next: 200},
		{name: "a higher leader epoch wins over an orphan of a lower one",
			flush: []*flushCand{fl("f1", 0, 9, 1), fl("f2-orphan", 10, 19, 1), fl("f3", 10, 14, 2), fl("f4", 15, 30, 2)},
			want:  []string{"f1@0-9", "f3@10-14", "f4@15-30"}, start: 0, next: 31},
		{name: "an orphan of an older epoch past the new leader's data is not served",
			flush: []*flushCand{fl("f1", 0, 9, 2), fl("f0-orphan", 10, 19, 1)},
			want:  []string{"f1@0-9"}, start: 0, next: 10},
		{name: "a re-upload of one epoch's batches is served once",
			flush: []*flushCand{fl("f1", 0, 9, 1), fl("f1-again", 0, 9, 1), fl("f2", 10, 19, 1)},
			want:  []string{"f1@0-9", "f2@10-19"}, start: 0, next: 20},
		{name: "a gap is restored across, and marked",
			segs:  []*segCand{seg("s1", [3]int64{0, 9, 0})},
			flush: []*flushCand{fl("f3", 20, 29, 0)},
			want:  []string{"s1@0-9", "!f3@20-29"}, start: 0, next: 30},
		{name: "a compacted segment with gaps inside is served whole",
			segs: []*segCand{seg("c1", [3]int64{0, 3, 0}, [3]int64{7, 9, 0})},
			want: []string{"c1@0-9"}, start: 0, next: 10},
		{name: "empty", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fold(tt.segs, tt.flush)
			got := describePieces(r)
			if len(got) != len(tt.want) {
				t.Fatalf("pieces %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("pieces %v, want %v", got, tt.want)
				}
			}
			if len(tt.want) > 0 && (r.start != tt.start || r.next != tt.next) {
				t.Fatalf("log %d-%d, want %d-%d", r.start, r.next, tt.start, tt.next)
			}
		})
	}
}
