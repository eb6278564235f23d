package groups

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listed reports whether ListGroups lists group.
func listed(t *testing.T, cl *kgo.Client, group string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	return slices.ContainsFunc(resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool { return g.Group == group })
}

// TestCommittedOffsetsExpire: with --offsets-retention 3s (offsets.retention.minutes), a
// group that only commits (a client that never joins, as Flink does) loses its offsets
// once its newest commit is that old and is no longer listed; a group with a live member
// keeps offsets committed longer ago than that, and loses them a retention after the
// member left.
func TestCommittedOffsetsExpire(t *testing.T) {
	const retention = 3 * time.Second
	b := startBroker(t, "--offsets-retention", retention.String(), "--offsets-retention-check-interval", "200ms")
	topic := uniqueName("expiry")
	createTopic(t, b.Addr, topic, 2)
	hw := produce(t, producer(t, b.Addr), topic, 2, 0, 20)
	admin := newClient(t, b.Addr)

	standalone := uniqueName("g-standalone")
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = standalone, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p := range int32(2) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 5
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, admin)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 || resp.Topics[0].Partitions[1].ErrorCode != 0 {
		t.Fatalf("simple OffsetCommit: %+v, %v", resp, err)
	}
	committedAt := time.Now()
	if got := committed(t, admin, standalone, topic, 2); !maps.Equal(got, map[int32]int64{0: 5, 1: 5}) {
		t.Fatalf("committed offsets %v right after the commit, want 5 and 5", got)
	}

	live := uniqueName("g-live")
	s := newSeen()
	stop := startMember(t, b.Addr, live, topic, s)
	waitCommitted(t, b.Addr, live, topic, 2, hw)
	liveCommittedBy := time.Now()

	none := map[int32]int64{0: -1, 1: -1}
	waitFor(t, 20*time.Second, "the standalone group's offsets expired", func() bool {
		return maps.Equal(committed(t, admin, standalone, topic, 2), none)
	})
	// The broker dates the commit a little before the response arrived: allow for that.
	if age := time.Since(committedAt); age < retention-500*time.Millisecond {
		t.Fatalf("the standalone group's offsets expired %s after its commit, before the %s retention", age.Round(time.Millisecond), retention)
	}
	if listed(t, admin, standalone) {
		t.Fatalf("ListGroups still lists %s after its offsets expired", standalone)
	}

	// The live group's member consumed everything, so its commits stopped; it stays.
	time.Sleep(time.Until(liveCommittedBy.Add(retention + time.Second)))
	if got := committed(t, admin, live, topic, 2); !maps.Equal(got, hw) {
		t.Fatalf("a group with a live member lost its offsets: %v, want %v", got, hw)
	}
	stop()
	left := time.Now()
	waitFor(t, 20*time.Second, "the live group's offsets expired after its member left", func() bool {
		return maps.Equal(committed(t, admin, live, topic, 2), none)
	})
	if age := time.Since(left); age < retention-500*time.Millisecond {
		t.Fatalf("the group's offsets expired %s after its member left, before the %s retention", age.Round(time.Millisecond), retention)
	}
}
