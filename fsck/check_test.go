package fsck

import (
	"testing"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/segment"
)

// TestCheckPartitionGaps folds one partition's segments as a check does: a gap is a
// problem unless a segment etcd records as compacted explains it, and offsets below the
// log start are not looked at.
func TestCheckPartitionGaps(t *testing.T) {
	id := [16]byte{7}
	type s struct {
		base, last int64
		chunks     [][2]int64
		compacted  bool
	}
	tests := []struct {
		name     string
		logStart int64
		segs     []s
		want     []string // problem kinds
	}{
		{name: "contiguous", segs: []s{{0, 9, [][2]int64{{0, 4}, {5, 9}}, false}, {10, 19, [][2]int64{{10, 19}}, false}}},
		{name: "a gap between segments", segs: []s{{0, 9, [][2]int64{{0, 9}}, false}, {15, 19, [][2]int64{{15, 19}}, false}}, want: []string{KindGap}},
		{name: "a gap inside a compacted segment", segs: []s{{0, 19, [][2]int64{{0, 3}, {12, 19}}, true}}},
		{name: "a compacted segment whose first records were removed", segs: []s{{0, 9, [][2]int64{{0, 9}}, false}, {10, 19, [][2]int64{{14, 19}}, true}}},
		{name: "a compacted segment starting past the log", segs: []s{{0, 9, [][2]int64{{0, 9}}, false}, {12, 19, [][2]int64{{12, 19}}, true}}, want: []string{KindGap}},
		{name: "below the log start", logStart: 12, segs: []s{{10, 19, [][2]int64{{10, 11}, {12, 19}}, false}}},
		{name: "the log ends before the checkpoint's next offset", segs: []s{{0, 9, [][2]int64{{0, 9}}, false}}, want: []string{KindShort}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := meta.PartitionKey{TopicID: id, Partition: 0}
			e := &etcdState{cps: map[meta.PartitionKey]*metapb.Checkpoint{pk: {LogStart: tt.logStart, NextOffset: 20}},
				segs: map[meta.PartitionKey][]*metapb.Segment{}}
			b := &Bucket{ByKey: map[string]*Object{}}
			for i, sg := range tt.segs {
				key := "segments/" + string(rune('a'+i))
				f := &segment.Footer{}
				for _, c := range sg.chunks {
					f.Extents = append(f.Extents, segment.Extent{TopicID: id, BaseOffset: c[0], LastOffset: c[1]})
				}
				b.ByKey[key] = &Object{Key: key, Footer: f}
				seg := &metapb.Segment{Key: key, BaseOffset: sg.base, LastOffset: sg.last}
				if sg.compacted {
					seg.CompactedUnixMs = 1
				}
				e.segs[pk] = append(e.segs[pk], seg)
			}
			r := &Report{}
			checkPartition(meta.NewKeys(""), e, b, &metapb.Topic{Id: id[:], Name: "t", Partitions: 1}, 0, r)
			var got []string
			for _, f := range r.Problems {
				got = append(got, f.Kind)
			}
			if len(got) != len(tt.want) || len(got) > 0 && got[0] != tt.want[0] {
				t.Fatalf("problems %+v, want kinds %v", r.Problems, tt.want)
			}
		})
	}
}
