package meta

import (
	"testing"

	"github.com/kafscale/kafscale/meta/metapb"
)

// once returns a hook that runs f the first time only.
func once(f func()) func() {
	done := false
	return func() {
		if !done {
			done = true
			f()
		}
	}
}

// Guards the read-modify-write of assignments/<leader>: a concurrent change
// must not be overwritten.
func TestCreateTopicRetriesWhenTheAssignmentChangesUnderIt(t *testing.T) {
	s := newTestStore(t)
	other := New(testClient, Config{Prefix: s.cfg.Prefix}, nil)
	kv := countKV(s)
	kv.beforeWrite = once(func() { createTopic(t, other, "sneaky", 2, 1) })
	createTopic(t, s, "mine", 3, 1)
	a, _, err := s.GetAssignment(testCtx(t), 1)
	if err != nil || len(a.Partitions) != 5 {
		t.Fatalf("assignment = %v, %v; want both topics' 5 partitions", a, err)
	}
	if n := len(kv.reset()); n != 2 {
		t.Fatalf("%d write attempts, want 2", n)
	}
}

// Guards the prefix compare of DeleteTopic: an assignment created after the
// read (a partition moved to a new broker) must be cleaned too.
func TestDeleteTopicRetriesWhenAnAssignmentAppearsUnderIt(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	top := createTopic(t, s, "t", 2, 1)
	kv := countKV(s)
	kv.beforeWrite = once(func() {
		moved := &metapb.Assignment{Partitions: []*metapb.PartitionRef{{TopicId: top.Id, Partition: 1, LeaderEpoch: 1}}}
		val, _ := marshal(moved)
		if _, err := testClient.Put(ctx, s.keys.Assignment(9), string(val)); err != nil {
			t.Error(err)
		}
	})
	if _, err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, b := range []int32{1, 9} {
		if a, _, err := s.GetAssignment(ctx, b); err != nil || len(a.Partitions) != 0 {
			t.Fatalf("assignment %d after delete = %v, %v; want empty", b, a, err)
		}
	}
}
