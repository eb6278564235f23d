package ctrl

import (
	"testing"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

// TestBalanceSpreadsTheFirstBrokersSlots: the first broker of a new cluster gets every
// coordinator slot; brokers that join must get their share.
func TestBalanceSpreadsTheFirstBrokersSlots(t *testing.T) {
	a := &metapb.Assignment{}
	for s := range int32(meta.GroupSlots) {
		a.Partitions = append(a.Partitions, &metapb.PartitionRef{TopicId: meta.GroupSlotsTopicID[:], Partition: s})
	}
	st := &meta.ClusterState{Assignments: map[int32]*metapb.Assignment{0: a}}
	load := map[int32]int{0: meta.GroupSlots, 1: 0, 2: 0}
	moves := balance(st, []int32{0, 1, 2}, load, true, meta.GroupSlots, nil)
	got := map[int32]int{0: meta.GroupSlots}
	for _, m := range moves {
		if m.From != 0 || m.TopicID != meta.GroupSlotsTopicID {
			t.Fatalf("unexpected move %+v", m)
		}
		got[m.From]--
		got[m.To]++
	}
	for id, n := range got {
		if n < meta.GroupSlots/3 || n > meta.GroupSlots/3+1 {
			t.Errorf("broker %d holds %d slots after balancing, want %d or %d: %v", id, n, meta.GroupSlots/3, meta.GroupSlots/3+1, got)
		}
	}
	if again := balance(st, []int32{0, 1, 2}, got, true, meta.GroupSlots, nil); len(again) != 0 {
		t.Errorf("balanced slots moved again: %v", again)
	}
}
