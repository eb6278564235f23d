package meta

import (
	"testing"

	"github.com/kafscale/kafscale/meta/metapb"
)

// TestListTopicSegmentsMatchesListSegments: the topic-wide listing a takeover reads instead
// of one request per partition gives each partition exactly what ListSegments gives, in
// offset order, across partitions whose keys interleave as strings (1/, 10/, 2/) and pages.
func TestListTopicSegmentsMatchesListSegments(t *testing.T) {
	s := newTestStore(t)
	s.pageSize = 3 // several pages
	ctx := testCtx(t)
	reg := register(t, s, 1)
	top := createTopic(t, s, "t", 12, 1)
	id := [16]byte(top.Id)
	for _, p := range []int32{1, 2, 10, 11} {
		for i := range int64(int(p)%3 + 2) {
			seg := &metapb.Segment{Key: "seg", BaseOffset: i * 100, LastOffset: i*100 + 99}
			cp := &metapb.Checkpoint{LeaderEpoch: 1}
			if _, err := s.CommitSegment(ctx, 1, reg.FenceRev, PartitionKey{id, p}, seg, cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := s.ListTopicSegments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(12) {
		want, err := s.ListSegments(ctx, id, p)
		if err != nil {
			t.Fatal(err)
		}
		got := all[p]
		if len(got) != len(want) {
			t.Fatalf("partition %d: %d segments, ListSegments has %d", p, len(got), len(want))
		}
		for i := range got {
			if got[i].LastOffset != want[i].LastOffset || (i > 0 && got[i].BaseOffset <= got[i-1].BaseOffset) {
				t.Fatalf("partition %d segment %d: %v; ListSegments has %v", p, i, got[i], want[i])
			}
		}
	}
	if len(all) != 4 {
		t.Errorf("segments listed for %d partitions; want 4", len(all))
	}
}
