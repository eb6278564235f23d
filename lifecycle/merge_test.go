package lifecycle

import (
	"testing"

	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

func ext(broker int32, inc uint64, epoch int32, seq uint64) partition.Extent {
	return partition.Extent{Extent: segment.Extent{LeaderEpoch: epoch}, Broker: broker, Incarnation: inc, Seq: seq}
}

func chain(broker int32, inc uint64, epoch int32, first uint64) *metapb.Chain {
	return &metapb.Chain{BrokerId: broker, Incarnation: inc, LeaderEpoch: epoch, FirstSeq: first}
}

// TestAdvanceChains pins the chain moves a merge may make: a wrong move either makes
// takeover skip unmerged data (loss) or keeps chains forever (unbounded takeover).
func TestAdvanceChains(t *testing.T) {
	const self, inc, epoch = 0, 9, 3
	tests := []struct {
		name      string
		chains    []*metapb.Chain
		merged    []partition.Extent
		remaining []partition.Extent
		want      []*metapb.Chain
	}{
		{
			name:      "own chain moves to its first unmerged object",
			chains:    []*metapb.Chain{chain(self, inc, epoch, 0)},
			merged:    []partition.Extent{ext(self, inc, epoch, 0), ext(self, inc, epoch, 2)},
			remaining: []partition.Extent{ext(self, inc, epoch, 5), ext(self, inc, epoch, 7)},
			want:      []*metapb.Chain{chain(self, inc, epoch, 5)},
		},
		{
			name:   "own chain fully merged starts after the last merged object",
			chains: []*metapb.Chain{chain(self, inc, epoch, 0)},
			merged: []partition.Extent{ext(self, inc, epoch, 0), ext(self, inc, epoch, 4)},
			want:   []*metapb.Chain{chain(self, inc, epoch, 5)},
		},
		{
			name:   "own chain with nothing merged is kept as is",
			chains: []*metapb.Chain{chain(self, inc, epoch, 12)},
			want:   []*metapb.Chain{chain(self, inc, epoch, 12)},
		},
		{
			name:      "older leaderships fully merged are dropped",
			chains:    []*metapb.Chain{chain(self, 4, 1, 0), chain(self, 7, 2, 3), chain(self, inc, epoch, 0)},
			merged:    []partition.Extent{ext(self, 4, 1, 0), ext(self, 7, 2, 3), ext(self, 7, 2, 8)},
			remaining: []partition.Extent{ext(self, inc, epoch, 1)},
			want:      []*metapb.Chain{chain(self, inc, epoch, 1)},
		},
		{
			name:      "an older leadership partly merged keeps its unmerged objects",
			chains:    []*metapb.Chain{chain(self, 7, 2, 3), chain(self, inc, epoch, 0)},
			merged:    []partition.Extent{ext(self, 7, 2, 3)},
			remaining: []partition.Extent{ext(self, 7, 2, 8), ext(self, inc, epoch, 0)},
			want:      []*metapb.Chain{chain(self, 7, 2, 8), chain(self, inc, epoch, 0)},
		},
		{
			name:   "an older chain with no extents of this partition is dropped",
			chains: []*metapb.Chain{chain(5, 2, 1, 0), chain(self, inc, epoch, 0)},
			merged: []partition.Extent{ext(self, inc, epoch, 1)},
			want:   []*metapb.Chain{chain(self, inc, epoch, 2)},
		},
		{
			name:      "a chain never moves backwards",
			chains:    []*metapb.Chain{chain(self, inc, epoch, 6)},
			remaining: []partition.Extent{ext(self, inc, epoch, 6)},
			want:      []*metapb.Chain{chain(self, inc, epoch, 6)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := advanceChains(tt.chains, tt.merged, tt.remaining, self, inc, epoch)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d chains %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.BrokerId != w.BrokerId || g.Incarnation != w.Incarnation || g.LeaderEpoch != w.LeaderEpoch || g.FirstSeq != w.FirstSeq {
					t.Fatalf("chain %d = %v, want %v", i, g, w)
				}
			}
		})
	}
}
