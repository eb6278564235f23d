package ctrl

import (
	"testing"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

func pk(p int32) meta.PartitionKey { return meta.PartitionKey{TopicID: [16]byte{1}, Partition: p} }

// apply performs moves on holdings and counts, failing on a move of a partition its
// From does not hold.
func apply(t *testing.T, holdings map[int32][]meta.PartitionKey, counts map[int32]int, moves []meta.Move) {
	t.Helper()
	for _, m := range moves {
		k := meta.PartitionKey{TopicID: m.TopicID, Partition: m.Partition}
		found := false
		for i, h := range holdings[m.From] {
			if h == k {
				holdings[m.From] = append(holdings[m.From][:i:i], holdings[m.From][i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("move %+v: broker %d does not hold partition %d", m, m.From, m.Partition)
		}
		holdings[m.To] = append(holdings[m.To], k)
		counts[m.From]--
		counts[m.To]++
	}
}

func loads(holdings map[int32][]meta.PartitionKey, rates map[meta.PartitionKey]int64) map[int32]int64 {
	out := map[int32]int64{}
	for id, hs := range holdings {
		for _, k := range hs {
			out[id] += rates[k]
		}
	}
	return out
}

// TestBalanceBytesSpreadsHotPartitions: two hot partitions on one broker of three with even
// counts are spread by swaps until the brokers' bytes in are within the tolerance, counts
// stay even, and balancing then stops.
func TestBalanceBytesSpreadsHotPartitions(t *testing.T) {
	live := []int32{0, 1, 2}
	holdings := map[int32][]meta.PartitionKey{0: {pk(0), pk(1)}, 1: {pk(2), pk(3)}, 2: {pk(4), pk(5)}}
	counts := map[int32]int{0: 2, 1: 2, 2: 2}
	rates := map[meta.PartitionKey]int64{pk(0): 4 << 20, pk(1): 4 << 20, pk(2): 10 << 10, pk(3): 10 << 10, pk(4): 10 << 10, pk(5): 10 << 10}
	never := func(meta.PartitionKey) bool { return false }
	rounds := 0
	for ; rounds < 10; rounds++ {
		moves := balanceBytes(live, holdings, counts, rates, never, 60)
		if len(moves) == 0 {
			break
		}
		apply(t, holdings, counts, moves)
	}
	l := loads(holdings, rates)
	if rounds != 1 {
		t.Errorf("took %d rounds of moves, want 1 (one swap)", rounds)
	}
	hot := 0
	for id := range live {
		if l[int32(id)] >= 4<<20 {
			hot++
		}
		if counts[int32(id)] != 2 {
			t.Errorf("broker %d holds %d partitions after balancing bytes, want 2: %v", id, counts[int32(id)], counts)
		}
	}
	if hot != 2 {
		t.Errorf("the two hot partitions are not on two brokers: bytes in %v, holdings %v", l, holdings)
	}
}

// TestBalanceBytesLeavesWhatIsWithinTolerance: brokers within MinBytesInImbalance, or a
// skew no move can reduce (one partition carries it all), are left alone; frozen
// partitions do not move.
func TestBalanceBytesLeavesWhatIsWithinTolerance(t *testing.T) {
	live := []int32{0, 1}
	never := func(meta.PartitionKey) bool { return false }
	for _, tc := range []struct {
		name   string
		rates  map[meta.PartitionKey]int64
		frozen func(meta.PartitionKey) bool
	}{
		{"within the minimum", map[meta.PartitionKey]int64{pk(0): 400 << 10, pk(1): 0, pk(2): 0, pk(3): 0}, never},
		{"one partition carries the skew", map[meta.PartitionKey]int64{pk(0): 8 << 20, pk(1): 0, pk(2): 0, pk(3): 0}, never},
		{"frozen", map[meta.PartitionKey]int64{pk(0): 3 << 20, pk(1): 3 << 20, pk(2): 0, pk(3): 0}, func(k meta.PartitionKey) bool { return k.Partition < 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holdings := map[int32][]meta.PartitionKey{0: {pk(0), pk(1)}, 1: {pk(2), pk(3)}}
			counts := map[int32]int{0: 2, 1: 2}
			if moves := balanceBytes(live, holdings, counts, tc.rates, tc.frozen, 60); len(moves) != 0 {
				t.Errorf("moved %+v", moves)
			}
		})
	}
}

// TestBalanceBytesMovesOneWhenCountsAllow: a broker holding one more partition than the
// idlest gives it its hot one alone (counts stay within one), and a swap is never planned
// with fewer than two moves left in the budget.
func TestBalanceBytesMovesOneWhenCountsAllow(t *testing.T) {
	live := []int32{0, 1}
	never := func(meta.PartitionKey) bool { return false }
	holdings := map[int32][]meta.PartitionKey{0: {pk(0), pk(1), pk(2)}, 1: {pk(3), pk(4)}}
	counts := map[int32]int{0: 3, 1: 2}
	rates := map[meta.PartitionKey]int64{pk(0): 2 << 20, pk(1): 2 << 20, pk(2): 0, pk(3): 0, pk(4): 0}
	moves := balanceBytes(live, holdings, counts, rates, never, 1)
	if len(moves) != 1 || moves[0].From != 0 || moves[0].To != 1 || rates[pk(moves[0].Partition)] != 2<<20 {
		t.Fatalf("moves %+v, want one hot partition from 0 to 1", moves)
	}
	holdings = map[int32][]meta.PartitionKey{0: {pk(0), pk(1)}, 1: {pk(3), pk(4)}}
	counts = map[int32]int{0: 2, 1: 2}
	if moves := balanceBytes(live, holdings, counts, rates, never, 1); len(moves) != 0 {
		t.Errorf("with one move left and even counts, moved %+v", moves)
	}
	if moves := balanceBytes(live, holdings, counts, rates, never, 2); len(moves) != 2 {
		t.Errorf("with two moves left and even counts, moved %+v, want a swap", moves)
	}
}

// TestBalancePrefersPartitionsThatEvenOutBytes: count balancing moves the partition whose
// bytes in best even out the two brokers, not an arbitrary one.
func TestBalancePrefersPartitionsThatEvenOutBytes(t *testing.T) {
	a := assignment(pk(0), pk(1), pk(2), pk(3))
	st := &meta.ClusterState{Assignments: map[int32]*metapb.Assignment{0: a, 1: assignment()}}
	rates := map[meta.PartitionKey]int64{pk(0): 3 << 20, pk(1): 3 << 20, pk(2): 0, pk(3): 0}
	moves := balance(st, []int32{0, 1}, map[int32]int{0: 4, 1: 0}, false, 60, rates)
	var moved int64
	for _, m := range moves {
		moved += rates[pk(m.Partition)]
	}
	if len(moves) != 2 || moved != 3<<20 {
		t.Errorf("moves %+v carry %d bytes/s, want 2 moves carrying one hot partition (%d)", moves, moved, 3<<20)
	}
}

func assignment(ks ...meta.PartitionKey) *metapb.Assignment {
	a := &metapb.Assignment{}
	for _, k := range ks {
		a.Partitions = append(a.Partitions, &metapb.PartitionRef{TopicId: k.TopicID[:], Partition: k.Partition})
	}
	return a
}
