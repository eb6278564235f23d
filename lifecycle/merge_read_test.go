package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

// rangeCounter counts the ranged GETs sent to a real local store.
type rangeCounter struct {
	objstore.Store
	gets atomic.Int64
}

func (c *rangeCounter) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.GetRange(ctx, key, off, n)
}

func flushExtent(key string, pos, n int64) partition.Extent {
	return partition.Extent{Key: key, Extent: segment.Extent{Pos: pos, Len: n}}
}

// TestMergeBatchReadsEachFlushObjectOnce guards against the cost bug of docs/benchmarks.md
// ("Object-store cost at steady state"): a merge read each flush object once per partition
// it held, so GETs per GB grew with the partitions per flush.
func TestMergeBatchReadsEachFlushObjectOnce(t *testing.T) {
	ctx := context.Background()
	local, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &rangeCounter{Store: local}
	const objects, parts, extLen = 20, 16, 1000
	obj := make([]byte, parts*extLen)
	for i := range obj {
		obj[i] = byte(i / extLen)
	}
	plans := make([]mergePlan, parts)
	for o := range objects {
		key := fmt.Sprintf("flush/0/1/%02d", o)
		if err := local.Put(ctx, key, [][]byte{obj}, int64(len(obj))); err != nil {
			t.Fatal(err)
		}
		for p := range parts {
			plans[p].cands = append(plans[p].cands, flushExtent(key, int64(p*extLen), extLen))
			plans[p].bytes += extLen
		}
	}
	data, errs := readMergeBatch(ctx, st, plans)
	if got := st.gets.Load(); got != objects {
		t.Fatalf("%d GETs for %d flush objects of %d partitions, want one per object", got, objects, parts)
	}
	for p := range parts {
		if errs[p] != nil {
			t.Fatalf("partition %d: %v", p, errs[p])
		}
		for o, d := range data[p] {
			if !bytes.Equal(d, bytes.Repeat([]byte{byte(p)}, extLen)) {
				t.Fatalf("partition %d, object %d: wrong bytes %v...", p, o, d[:8])
			}
		}
	}
}

// TestMergeBatchFailedReadFailsOnlyItsPlans: a missing flush object must fail the merges
// that need it, not the whole batch.
func TestMergeBatchFailedReadFailsOnlyItsPlans(t *testing.T) {
	ctx := context.Background()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "flush/0/1/a", [][]byte{make([]byte, 100)}, 100); err != nil {
		t.Fatal(err)
	}
	plans := []mergePlan{
		{cands: []partition.Extent{flushExtent("flush/0/1/a", 0, 50)}},
		{cands: []partition.Extent{flushExtent("flush/0/1/a", 50, 50), flushExtent("flush/0/1/missing", 0, 10)}},
	}
	data, errs := readMergeBatch(ctx, st, plans)
	if errs[0] != nil || len(data[0]) != 1 || len(data[0][0]) != 50 {
		t.Fatalf("plan 0: %v, %d extents", errs[0], len(data[0]))
	}
	if errs[1] == nil || data[1] != nil {
		t.Fatal("plan 1 reading a missing object did not fail")
	}
}

func TestMergeRanges(t *testing.T) {
	plan := func(exts ...partition.Extent) mergePlan { return mergePlan{cands: exts} }
	tests := []struct {
		name  string
		plans []mergePlan
		want  []objectRange
	}{
		{
			name:  "adjacent extents of one object are one read",
			plans: []mergePlan{plan(flushExtent("a", 100, 10)), plan(flushExtent("a", 0, 100))},
			want:  []objectRange{{key: "a", pos: 0, end: 110}},
		},
		{
			name:  "a gap up to mergeGapBytes is read through",
			plans: []mergePlan{plan(flushExtent("a", 0, 10)), plan(flushExtent("a", 10+mergeGapBytes, 10))},
			want:  []objectRange{{key: "a", pos: 0, end: 20 + mergeGapBytes}},
		},
		{
			name:  "a wider gap splits the read",
			plans: []mergePlan{plan(flushExtent("a", 0, 10)), plan(flushExtent("a", 11+mergeGapBytes, 10))},
			want:  []objectRange{{key: "a", pos: 0, end: 10}, {key: "a", pos: 11 + mergeGapBytes, end: 21 + mergeGapBytes}},
		},
		{
			name:  "objects are read separately",
			plans: []mergePlan{plan(flushExtent("a", 0, 10), flushExtent("b", 0, 10))},
			want:  []objectRange{{key: "a", pos: 0, end: 10}, {key: "b", pos: 0, end: 10}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeRanges(tt.plans)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d reads, want %d", len(got), len(tt.want))
			}
			for i, r := range got {
				if r.key != tt.want[i].key || r.pos != tt.want[i].pos || r.end != tt.want[i].end {
					t.Fatalf("read %d = %s [%d, %d), want %s [%d, %d)", i, r.key, r.pos, r.end, tt.want[i].key, tt.want[i].pos, tt.want[i].end)
				}
			}
		})
	}
}

// TestMergeWindow: the partitions due are cut at one flush object, so every object is read
// by one window only, a window holds at most the bound, and it cuts among at most
// maxBytes/minPiece partitions, so that no piece is much below minPiece.
func TestMergeWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	var keys [5]string // FlushKey's names are random past the time: name each object once
	for i := range keys {
		keys[i] = segment.FlushKey(0, 1, t0.Add(time.Duration(i)*time.Second))
	}
	// Partition p has 100 bytes in each object from p on (a partition created later).
	plans := make([]mergePlan, 3)
	for p := range plans {
		plans[p].lp.Index = int32(p)
		for o := p; o < 5; o++ {
			plans[p].cands = append(plans[p].cands, flushExtent(keys[o], int64(p*100), 100))
			plans[p].bytes += 100
		}
	}
	tests := []struct {
		name     string
		maxBytes int64
		minPiece int64
		want     string // per partition in the window: extents kept
		later    string // partitions left to a later window
	}{
		{name: "everything fits", maxBytes: 1200, minPiece: 1, want: "[0:5 1:4 2:3]", later: "[]"},
		{name: "cut after the third object", maxBytes: 600, minPiece: 1, want: "[0:3 1:2 2:1]", later: "[]"},
		{name: "cut before a partition's first object", maxBytes: 300, minPiece: 1, want: "[0:2 1:1]", later: "[2]"},
		{name: "the oldest object always goes", maxBytes: 10, minPiece: 1, want: "[0:1]", later: "[1 2]"},
		{name: "at most maxBytes/minPiece partitions, the oldest data first", maxBytes: 600, minPiece: 300, want: "[0:3 1:2]", later: "[2]"},
		{name: "those taken whole when they fit", maxBytes: 1000, minPiece: 500, want: "[0:5 1:4]", later: "[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out := mergeWindow(plans, tt.maxBytes, tt.minPiece)
			var got, later []string
			var size int64
			for _, p := range in {
				got = append(got, fmt.Sprintf("%d:%d", p.lp.Index, len(p.cands)))
				size += p.bytes
			}
			for _, lp := range out {
				later = append(later, fmt.Sprint(lp.Index))
			}
			if fmt.Sprint(got) != tt.want || fmt.Sprint(later) != tt.later {
				t.Fatalf("window %v, later %v; want %s, later %s", got, later, tt.want, tt.later)
			}
			if size > max(tt.maxBytes, 100) {
				t.Fatalf("window holds %d bytes, bound %d", size, tt.maxBytes)
			}
		})
	}
}
