package meta

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

func TestCreateTopicAssignsPartitionsAtEpochZero(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	top := &metapb.Topic{Name: "orders", Partitions: 3, Configs: map[string]string{"retention.ms": "1000"}}
	if err := s.CreateTopic(ctx, top, 5); err != nil {
		t.Fatal(err)
	}
	if len(top.Id) != 16 || top.CreatedUnixMs == 0 {
		t.Fatalf("CreateTopic did not fill id and creation time: %v", top)
	}
	got, err := s.GetTopic(ctx, "orders")
	if err != nil || !proto.Equal(got, top) {
		t.Fatalf("GetTopic = %v, %v; want %v", got, err, top)
	}
	a, rev, err := s.GetAssignment(ctx, 5)
	if err != nil || rev == 0 {
		t.Fatalf("GetAssignment: rev %d, %v", rev, err)
	}
	if len(a.Partitions) != 3 {
		t.Fatalf("assignment = %v, want 3 partitions", a)
	}
	for i, p := range a.Partitions {
		if string(p.TopicId) != string(top.Id) || p.Partition != int32(i) || p.LeaderEpoch != 0 {
			t.Fatalf("assignment[%d] = %v", i, p)
		}
	}
}

func TestCreateTopicRejects(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	createTopic(t, s, "taken", 1, 1)
	for _, tc := range []struct {
		name  string
		topic *metapb.Topic
		want  error
	}{
		{"a taken name", &metapb.Topic{Name: "taken", Partitions: 1}, ErrTopicExists},
		{"zero partitions", &metapb.Topic{Name: "zero"}, ErrInvalidPartitions},
		{"a slash in the name", &metapb.Topic{Name: "a/b", Partitions: 1}, nil},
		{"an empty name", &metapb.Topic{Partitions: 1}, nil},
		{"a short id", &metapb.Topic{Name: "short", Partitions: 1, Id: []byte{1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateTopic(ctx, tc.topic, 1)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want an error (%v)", err, tc.want)
			}
		})
	}
	if a, _, _ := s.GetAssignment(ctx, 1); len(a.Partitions) != 1 {
		t.Fatalf("rejected creates changed the assignment: %v", a)
	}
}

func TestCreateTopicDoesNotFenceTheLeader(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	createTopic(t, s, "a", 4, 1)
	if _, err := s.AddPartitions(ctx, "a", 8, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitObject(ctx, reg, reg.FenceRev, 0, entry("x")); err != nil {
		t.Fatalf("commit after adding partitions: %v", err)
	}
}

func TestListTopicsOrderedByName(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	for _, name := range []string{"b", "c", "a"} {
		createTopic(t, s, name, 1, 1)
	}
	topics, err := s.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, top := range topics {
		names = append(names, top.Name)
	}
	if fmt.Sprint(names) != "[a b c]" {
		t.Fatalf("ListTopics names = %v", names)
	}
	if _, err := s.GetTopic(ctx, "missing"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("GetTopic(missing) = %v, want ErrTopicNotFound", err)
	}
}

func TestAddPartitions(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	top := createTopic(t, s, "t", 2, 1)
	got, err := s.AddPartitions(ctx, "t", 5, 2)
	if err != nil || got.Partitions != 5 {
		t.Fatalf("AddPartitions = %v, %v", got, err)
	}
	if stored, _ := s.GetTopic(ctx, "t"); stored.Partitions != 5 || string(stored.Id) != string(top.Id) {
		t.Fatalf("stored topic = %v", stored)
	}
	a1, _, _ := s.GetAssignment(ctx, 1)
	a2, _, _ := s.GetAssignment(ctx, 2)
	if len(a1.Partitions) != 2 || len(a2.Partitions) != 3 || a2.Partitions[0].Partition != 2 {
		t.Fatalf("assignments = %v / %v", a1, a2)
	}
	if _, err := s.AddPartitions(ctx, "t", 5, 1); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("AddPartitions to the same count = %v, want ErrInvalidPartitions", err)
	}
	if _, err := s.AddPartitions(ctx, "missing", 5, 1); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("AddPartitions of a missing topic = %v, want ErrTopicNotFound", err)
	}
}

func TestDeleteTopicRemovesItsKeysAndFencesItsLeaders(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	reg := register(t, s, 1)
	doomed := createTopic(t, s, "doomed", 3, 1)
	if _, err := s.AddPartitions(ctx, "doomed", 4, 2); err != nil {
		t.Fatal(err)
	}
	kept := createTopic(t, s, "kept", 2, 1)
	doomedID, keptID := [16]byte(doomed.Id), [16]byte(kept.Id)
	cps := map[PartitionKey]*metapb.Checkpoint{}
	for p := range int32(2) {
		cps[PartitionKey{doomedID, p}] = &metapb.Checkpoint{NextOffset: 10}
		cps[PartitionKey{keptID, p}] = &metapb.Checkpoint{NextOffset: 20}
	}
	if err := s.PutCheckpoints(ctx, 1, reg.FenceRev, cps); err != nil {
		t.Fatal(err)
	}
	for _, id := range [][16]byte{doomedID, keptID} {
		if _, err := s.kv.Put(ctx, s.keys.Segment(id, 0, 99), "seg"); err != nil {
			t.Fatal(err)
		}
	}
	_, assignRevBefore, _ := s.GetAssignment(ctx, 1)

	deleted, err := s.DeleteTopic(ctx, "doomed")
	if err != nil || string(deleted.Id) != string(doomed.Id) {
		t.Fatalf("DeleteTopic = %v, %v", deleted, err)
	}
	if _, err := s.GetTopic(ctx, "doomed"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("GetTopic after delete = %v", err)
	}
	assertKeyCount(t, s, s.keys.TopicPartitionsPrefix(doomedID), 0)
	assertKeyCount(t, s, s.keys.TopicSegmentsPrefix(doomedID), 0)
	assertKeyCount(t, s, s.keys.TopicPartitionsPrefix(keptID), 2)
	assertKeyCount(t, s, s.keys.TopicSegmentsPrefix(keptID), 1)
	a1, rev1, _ := s.GetAssignment(ctx, 1)
	a2, _, _ := s.GetAssignment(ctx, 2)
	if len(a1.Partitions) != 2 || string(a1.Partitions[0].TopicId) != string(kept.Id) || len(a2.Partitions) != 0 {
		t.Fatalf("assignments after delete = %v / %v", a1, a2)
	}
	if rev1 == assignRevBefore {
		t.Fatal("assignment 1 was not rewritten")
	}
	// The leader's pending checkpoints and commits are fenced, so nothing of
	// the deleted topic is written back.
	if err := s.PutCheckpoints(ctx, 1, reg.FenceRev, cps); !errors.Is(err, ErrFenced) {
		t.Fatalf("PutCheckpoints after delete = %v, want ErrFenced", err)
	}
	if _, err := s.CommitObject(ctx, reg, reg.FenceRev, 0, entry("x")); !errors.Is(err, ErrFenced) {
		t.Fatalf("CommitObject after delete = %v, want ErrFenced", err)
	}
	if _, err := s.DeleteTopic(ctx, "doomed"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("second DeleteTopic = %v, want ErrTopicNotFound", err)
	}

	again := createTopic(t, s, "doomed", 3, 1)
	if string(again.Id) == string(doomed.Id) {
		t.Fatal("recreated topic reuses the old id")
	}
	if cp, err := s.GetCheckpoint(ctx, [16]byte(again.Id), 0); err != nil || cp != nil {
		t.Fatalf("recreated topic's checkpoint = %v, %v; want none", cp, err)
	}
}

func assertKeyCount(t *testing.T, s *Store, prefix string, want int64) {
	t.Helper()
	resp, err := s.cli.Get(testCtx(t), prefix, clientv3WithPrefixCount()...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != want {
		t.Fatalf("%s has %d keys, want %d", prefix, resp.Count, want)
	}
}

// Create and delete take a constant number of operations, whatever the
// partition count.
func TestTopicTxnsDoNotGrowWithPartitions(t *testing.T) {
	var shapes [][]txnShape
	for _, n := range []int32{1, 1000} {
		s := newTestStore(t)
		s.keys = NewKeys(s.keys.Root() + fmt.Sprintf("%04d", n))
		kv := countKV(s)
		top := createTopic(t, s, "t", n, 1)
		cps := map[PartitionKey]*metapb.Checkpoint{}
		for p := range n {
			cps[PartitionKey{[16]byte(top.Id), p}] = &metapb.Checkpoint{}
		}
		if err := s.PutCheckpoints(testCtx(t), 1, 0, cps); err != nil {
			t.Fatal(err)
		}
		kv.reset()
		createTopic(t, s, "u", n, 1)
		if _, err := s.DeleteTopic(testCtx(t), "t"); err != nil {
			t.Fatal(err)
		}
		got := kv.reset()
		for i := range got {
			got[i].PutBytes = 0 // the assignment value does grow
		}
		shapes = append(shapes, got)
	}
	if fmt.Sprint(shapes[0]) != fmt.Sprint(shapes[1]) {
		t.Fatalf("transactions for 1 partition %v differ from 1000 partitions %v", shapes[0], shapes[1])
	}
}
