package meta

import (
	"errors"
	"testing"
)

func TestBumpEpochsIncrementsEveryEpochAndFences(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	createTopic(t, s, "a", 2, 1)
	createTopic(t, s, "b", 1, 1)
	createTopic(t, s, "elsewhere", 1, 2)
	for round := int32(1); round <= 2; round++ {
		a, fenceRev, err := s.BumpEpochs(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		stored, _, err := s.GetAssignment(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Partitions) != 3 || len(stored.Partitions) != 3 {
			t.Fatalf("round %d: assignment %v, stored %v", round, a, stored)
		}
		for i, p := range stored.Partitions {
			if p.LeaderEpoch != round || a.Partitions[i].LeaderEpoch != round {
				t.Fatalf("round %d: partition %v at epoch %d", round, p, p.LeaderEpoch)
			}
		}
		if _, err := s.CommitObject(ctx, reg, reg.FenceRev, uint64(round), entry("x")); !errors.Is(err, ErrFenced) {
			t.Fatalf("round %d: commit at the old fence = %v, want ErrFenced", round, err)
		}
		if _, err := s.CommitObject(ctx, reg, fenceRev, uint64(round), entry("x")); err != nil {
			t.Fatalf("round %d: commit at the new fence: %v", round, err)
		}
		reg.FenceRev = fenceRev
	}
	other, _, _ := s.GetAssignment(ctx, 2)
	if other.Partitions[0].LeaderEpoch != 0 {
		t.Fatalf("another broker's epoch moved: %v", other)
	}
}

func TestBumpEpochsWithoutAssignmentStillFences(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	a, fenceRev, err := s.BumpEpochs(ctx, 1)
	if err != nil || len(a.Partitions) != 0 || fenceRev <= reg.FenceRev {
		t.Fatalf("BumpEpochs = %v, %d, %v", a, fenceRev, err)
	}
	if _, rev, _ := s.GetAssignment(ctx, 1); rev != 0 {
		t.Fatalf("BumpEpochs created an empty assignment at %d", rev)
	}
}
