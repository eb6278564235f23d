package meta

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

func TestCommitObject(t *testing.T) {
	type step struct {
		seq       uint64
		entry     string
		bumpFirst bool // bump the fence (BumpEpochs) before this step
		wantErr   error
		wantBUG   bool
		size      int64  // object size if not entry's default
		wantKey   string // object key the commit must report (default: entry)
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"commits new seqs", []step{{seq: 0, entry: "a"}, {seq: 1, entry: "b"}}},
		{"retry of a committed entry succeeds", []step{{seq: 0, entry: "a"}, {seq: 0, entry: "a"}}},
		{"a retry under another object key returns the committed entry", []step{{seq: 0, entry: "a"}, {seq: 0, entry: "b", wantKey: "a"}}},
		{"another object size on a committed seq is a BUG", []step{{seq: 0, entry: "a"}, {seq: 0, entry: "b", size: 99, wantBUG: true}}},
		{"moved fence fails with ErrFenced", []step{{seq: 0, entry: "a"}, {seq: 1, entry: "b", bumpFirst: true, wantErr: ErrFenced}}},
		{"retry of a committed entry succeeds after the fence moved", []step{{seq: 0, entry: "a"}, {seq: 0, entry: "a", bumpFirst: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			ctx := testCtx(t)
			reg := register(t, s, 1)
			for i, st := range tc.steps {
				if st.bumpFirst {
					if _, _, err := s.BumpEpochs(ctx, 1); err != nil {
						t.Fatal(err)
					}
				}
				e := entry(st.entry)
				if st.size != 0 {
					e.Size = st.size
				}
				got, err := s.CommitObject(ctx, reg, reg.FenceRev, st.seq, e)
				want := st.wantKey
				if want == "" {
					want = st.entry
				}
				if err == nil && got.GetKey() != want {
					t.Fatalf("step %d: committed entry names %q, want %q", i, got.GetKey(), want)
				}
				switch {
				case st.wantBUG:
					if err == nil || !strings.HasPrefix(err.Error(), "BUG:") {
						t.Fatalf("step %d: got %v, want a BUG: error", i, err)
					}
				case st.wantErr != nil:
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d: got %v, want %v", i, err, st.wantErr)
					}
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				}
			}
		})
	}
}

func TestCommitObjectFencedErrorNamesBothRevisions(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	_, newRev, err := s.BumpEpochs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CommitObject(ctx, reg, reg.FenceRev, 0, entry("a"))
	want := fmt.Sprintf("from revision %d to %d", reg.FenceRev, newRev)
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want ErrFenced naming %q", err, want)
	}
	// The broker re-reads its assignment and commits the same seq at the new
	// fence (with a void list): that succeeds.
	if _, err := s.CommitObject(ctx, reg, newRev, 0, entry("a")); err != nil {
		t.Fatal(err)
	}
}

// The commit transaction takes no partitions, so its size cannot grow with
// them: it is the same for a broker leading 1 and 1000 partitions.
func TestCommitObjectTxnSizeDoesNotDependOnPartitionCount(t *testing.T) {
	var shapes []txnShape
	for _, partitions := range []int32{1, 1000} {
		s := newTestStore(t)
		s.keys = NewKeys(s.keys.Root() + fmt.Sprintf("%04d", partitions))
		ctx := testCtx(t)
		reg := register(t, s, 1)
		createTopic(t, s, "t", partitions, 1)
		if a, _, err := s.GetAssignment(ctx, 1); err != nil || len(a.Partitions) != int(partitions) {
			t.Fatalf("assignment has %d partitions (%v), want %d", len(a.GetPartitions()), err, partitions)
		}
		kv := countKV(s)
		if _, err := s.CommitObject(ctx, reg, reg.FenceRev, 0, entry("flush/1/x")); err != nil {
			t.Fatal(err)
		}
		got := kv.reset()
		if len(got) != 1 {
			t.Fatalf("%d partitions: %d transactions, want 1", partitions, len(got))
		}
		shapes = append(shapes, got[0])
	}
	want := txnShape{Cmps: 2, Thens: 1, Elses: 2, PutBytes: shapes[0].PutBytes}
	for i, sh := range shapes {
		if sh != want {
			t.Errorf("shape %d = %+v, want %+v", i, sh, want)
		}
	}
}

func TestListObjectsFromSeq(t *testing.T) {
	s := newTestStore(t)
	s.pageSize = 7 // several pages
	ctx := testCtx(t)
	reg := register(t, s, 1)
	other := register(t, s, 2)
	const n = 30
	for seq := range uint64(n) {
		if _, err := s.CommitObject(ctx, reg, reg.FenceRev, seq, entry(fmt.Sprint("obj", seq))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CommitObject(ctx, other, other.FenceRev, 0, entry("other")); err != nil {
		t.Fatal(err)
	}
	for _, from := range []uint64{0, 1, 9, 10, 29, 30} {
		got, err := s.ListObjects(ctx, 1, reg.Incarnation, from)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n-int(from) {
			t.Fatalf("from %d: %d entries, want %d", from, len(got), n-int(from))
		}
		for i, se := range got {
			want := from + uint64(i)
			if se.Seq != want || !proto.Equal(se.Entry, entry(fmt.Sprint("obj", want))) {
				t.Fatalf("from %d: entry %d = seq %d %v, want seq %d", from, i, se.Seq, se.Entry, want)
			}
		}
	}
	if got, err := s.ListObjects(ctx, 1, reg.Incarnation+1, 0); err != nil || len(got) != 0 {
		t.Fatalf("other incarnation: %v, %v", got, err)
	}
}

func TestDeleteObjectsBeforeSeq(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	for seq := range uint64(5) {
		if _, err := s.CommitObject(ctx, reg, reg.FenceRev, seq, entry(fmt.Sprint(seq))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteObjects(ctx, reg, reg.Incarnation, 3)
	if err != nil || n != 3 {
		t.Fatalf("deleted %d (%v), want 3", n, err)
	}
	got, err := s.ListObjects(ctx, 1, reg.Incarnation, 0)
	if err != nil || len(got) != 2 || got[0].Seq != 3 {
		t.Fatalf("left %v (%v), want seqs 3 and 4", got, err)
	}
}

// TestDeleteObjectsOfAReplacedIncarnationIsFenced guards against a replaced process's GC
// deleting the entries of the process that replaced it (issue 18, scenario 2): once
// another registration of the broker id exists, DeleteObjects deletes nothing.
func TestDeleteObjectsOfAReplacedIncarnationIsFenced(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	old := register(t, s, 1)
	repl := register(t, s, 1)
	if _, err := s.CommitObject(ctx, repl, repl.FenceRev, 0, entry("new")); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteObjects(ctx, old, repl.Incarnation, 1)
	if !errors.Is(err, ErrFenced) || n != 0 {
		t.Fatalf("the replaced incarnation deleted %d entries (%v), want ErrFenced", n, err)
	}
	if got, err := s.ListObjects(ctx, 1, repl.Incarnation, 0); err != nil || len(got) != 1 {
		t.Fatalf("left %v (%v), want the new incarnation's entry", got, err)
	}
}

// TestCommitObjectsAllOrNone: a group commit puts every entry at once; it commits nothing
// when one key exists already or the fence moved, and each entry can then be committed
// one by one as CommitObject decides.
func TestCommitObjectsAllOrNone(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	ok, err := s.CommitObjects(ctx, reg, reg.FenceRev, []uint64{0, 1, 2}, []*metapb.ObjectEntry{entry("a"), entry("b"), entry("c")})
	if err != nil || !ok {
		t.Fatalf("group commit of seqs 0-2: %v, %v", ok, err)
	}
	got, err := s.ListObjects(ctx, 1, reg.Incarnation, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range got {
		keys = append(keys, fmt.Sprintf("%d=%s", e.Seq, e.Entry.GetKey()))
	}
	if want := "0=a 1=b 2=c"; strings.Join(keys, " ") != want {
		t.Fatalf("committed %v, want %s", keys, want)
	}
	// Seq 2 exists: nothing of the group 2-3 is committed.
	ok, err = s.CommitObjects(ctx, reg, reg.FenceRev, []uint64{2, 3}, []*metapb.ObjectEntry{entry("c"), entry("d")})
	if err != nil || ok {
		t.Fatalf("group commit over a committed seq: %v, %v; want false, nil", ok, err)
	}
	if got, _ := s.ListObjects(ctx, 1, reg.Incarnation, 3); len(got) != 0 {
		t.Fatalf("seq 3 committed by a group that failed: %v", got)
	}
	if _, _, err := s.BumpEpochs(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ok, err = s.CommitObjects(ctx, reg, reg.FenceRev, []uint64{3, 4}, []*metapb.ObjectEntry{entry("d"), entry("e")})
	if err != nil || ok {
		t.Fatalf("group commit under a moved fence: %v, %v; want false, nil", ok, err)
	}
	if _, err := s.CommitObject(ctx, reg, reg.FenceRev, 3, entry("d")); !errors.Is(err, ErrFenced) {
		t.Fatalf("one-by-one commit after the group failed: %v, want ErrFenced", err)
	}
}
