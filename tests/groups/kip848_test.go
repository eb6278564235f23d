package groups

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeConsumerGroup returns a KIP-848 group's state and members' assignment sizes.
func describeConsumerGroup(t *testing.T, cl *kgo.Client, group string) (string, []int) {
	st, sizes, _ := describeConsumerGroupAssignor(t, cl, group)
	return st, sizes
}

// describeConsumerGroupAssignor is describeConsumerGroup plus the group's server-side
// assignor.
func describeConsumerGroupAssignor(t *testing.T, cl *kgo.Client, group string) (string, []int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("cannot describe consumer group %s: %v", group, err)
	}
	var sizes []int
	for _, m := range resp.Groups[0].Members {
		n := 0
		for _, tp := range m.Assignment.TopicPartitions {
			n += len(tp.Partitions)
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return resp.Groups[0].State, sizes, resp.Groups[0].AssignorName
}

// TestFranzGoKIP848ConsumerGroup: franz-go members using the KIP-848 protocol
// (ConsumerGroupHeartbeat, server-side assignment) share a topic: the second member gets
// half the partitions once the first released them, every record is consumed, offsets
// are committed with member epochs, and when a member leaves the other takes everything.
// It runs once with each server-side assignor: franz-go asks for `uniform` with its sticky
// balancers and for `range` with its range balancer.
func TestFranzGoKIP848ConsumerGroup(t *testing.T) {
	for _, tt := range []struct {
		assignor string
		balancer kgo.GroupBalancer
	}{
		{"uniform", kgo.CooperativeStickyBalancer()},
		{"range", kgo.RangeBalancer()},
	} {
		t.Run(tt.assignor, func(t *testing.T) { testKIP848Group(t, tt.assignor, tt.balancer) })
	}
}

func testKIP848Group(t *testing.T, assignor string, balancer kgo.GroupBalancer) {
	const partitions = 6
	b := startBroker(t)
	topic, group := uniqueName("kip848"), uniqueName("g-kip848")
	createTopic(t, b.Addr, topic, partitions)
	prod := producer(t, b.Addr)
	admin := newClient(t, b.Addr)
	hw := produce(t, prod, topic, partitions, 0, 600)

	s := newSeen()
	member := func() (stop func()) {
		opts := append(groupConsumerOpts(b.Addr, group, topic), kgo.ServerSideBalancer(), kgo.Balancers(balancer))
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { s.add(r.Partition, r.Offset) })
			}
		}()
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				<-done
				cl.Close()
			}
		}
		t.Cleanup(stop)
		return stop
	}
	member()
	waitFor(t, 60*time.Second, "the first member consuming", func() bool { return s.total() > 0 })
	stopSecond := member()
	waitFor(t, 90*time.Second, "a stable consumer group of 2 members with 3 partitions each", func() bool {
		st, sizes := describeConsumerGroup(t, admin, group)
		return st == "Stable" && slices.Equal(sizes, []int{3, 3})
	})
	if _, _, got := describeConsumerGroupAssignor(t, admin, group); got != assignor {
		t.Errorf("the group's assignor is %q, want %q", got, assignor)
	}
	waitFor(t, 30*time.Second, "every record consumed", func() bool { return len(s.missing(hw)) == 0 })
	waitCommitted(t, b.Addr, group, topic, partitions, hw)

	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.TypesFilter = []string{"consumer"}
	lresp, err := lreq.RequestWith(context.Background(), admin)
	if err != nil || !slices.ContainsFunc(lresp.Groups, func(g kmsg.ListGroupsResponseGroup) bool { return g.Group == group && g.GroupType == "consumer" }) {
		t.Fatalf("ListGroups of type consumer does not list %s: %+v, %v", group, lresp, err)
	}

	stopSecond()
	waitFor(t, 60*time.Second, "the remaining member owning every partition", func() bool {
		st, sizes := describeConsumerGroup(t, admin, group)
		return st == "Stable" && slices.Equal(sizes, []int{partitions})
	})
	for p, n := range produce(t, prod, topic, partitions, 600, 60) {
		hw[p] += n
	}
	waitFor(t, 30*time.Second, "the records produced after the leave consumed", func() bool { return len(s.missing(hw)) == 0 })
	waitCommitted(t, b.Addr, group, topic, partitions, hw)
}
