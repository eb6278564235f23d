package meta

import (
	"context"
	"testing"
	"time"
)

func TestWatchTopicsSendsSnapshotThenChanges(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	first := createTopic(t, s, "first", 1, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := s.WatchTopics(wctx)
	next := func() TopicEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("watch closed early")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no topic event within 10s")
			return TopicEvent{}
		}
	}
	snap := next()
	if snap.Kind != TopicSnapshot || len(snap.Topics) != 1 || snap.Topics[0].Name != "first" || snap.Revision == 0 {
		t.Fatalf("first event = %+v, want a snapshot of [first]", snap)
	}
	createTopic(t, s, "second", 2, 1)
	if ev := next(); ev.Kind != TopicPut || ev.Name != "second" || ev.Topic.GetPartitions() != 2 || ev.Revision <= snap.Revision {
		t.Fatalf("event = %+v, want put of second", ev)
	}
	if _, err := s.AddPartitions(ctx, "second", 3, 1); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Kind != TopicPut || ev.Topic.GetPartitions() != 3 {
		t.Fatalf("event = %+v, want put of second with 3 partitions", ev)
	}
	if _, err := s.DeleteTopic(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Kind != TopicDeleted || ev.Name != "first" || string(ev.Topic.GetId()) != string(first.Id) {
		t.Fatalf("event = %+v, want delete of first with its id", ev)
	}
	cancel()
	for range events { // drains until the watch closes the channel
	}
}
