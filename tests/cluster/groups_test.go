package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
)

// coordinatorOf asks broker id which broker coordinates group g.
func (c *cluster) coordinatorOf(id int32, g string) (int32, int16, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = g            // up to v3
	req.CoordinatorKeys = []string{g} // v4 (KIP-699)
	resp, err := c.request(id, req)
	if err != nil {
		return -1, 0, err
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) == 1 {
		return r.Coordinators[0].NodeID, r.Coordinators[0].ErrorCode, nil
	}
	return r.NodeID, r.ErrorCode, nil
}

// TestGroupCoordinatorsAcrossBrokers guards against a split brain of consumer groups in a
// cluster: every broker used to coordinate every group it was asked about, so members of
// one group reaching different brokers formed separate generations and both consumed. Now
// every broker names the same coordinator for a group, the others answer
// NOT_COORDINATOR, groups spread over the brokers, and when the coordinator is killed
// (kill -9) the group moves to a live broker with its committed offsets: a consumer
// started afterwards resumes from them.
func TestGroupCoordinatorsAcrossBrokers(t *testing.T) {
	c := startCluster(t, 3)
	// The controller balances coordinator slots as the brokers join; then every broker
	// names the same coordinator for every group, and the groups (names scattered over the
	// 50 slots) spread over the brokers.
	owners := map[int32]int{}
	kafkatest.WaitUntil(t, 15*time.Second, "every broker to name the same coordinator for every group, groups on every broker", func() error {
		clear(owners)
		for i := range 30 {
			g := fmt.Sprintf("spread-%d", i*7919)
			var first int32 = -1
			for id := range int32(3) {
				owner, code, err := c.coordinatorOf(id, g)
				if err != nil || code != 0 {
					return fmt.Errorf("FindCoordinator(%s) on broker %d: %v, code %d", g, id, err, code)
				}
				if first >= 0 && owner != first {
					return fmt.Errorf("brokers disagree on the coordinator of %s: %d and %d", g, first, owner)
				}
				first = owner
			}
			owners[first]++
		}
		if len(owners) < 3 {
			return fmt.Errorf("30 groups are coordinated by %d brokers: %v", len(owners), owners)
		}
		return nil
	})

	const topic, partitions, group = "grouped", 6, "failover-group"
	kafkatest.CreateTopic(t, c.brokers[0].Addr, topic, partitions)
	coord, _, err := c.coordinatorOf(0, group)
	if err != nil {
		t.Fatal(err)
	}
	// A group request to a broker that does not coordinate the group.
	other := (coord + 1) % 3
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = group, "m", 1
	resp, err := c.request(other, hb)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.HeartbeatResponse).ErrorCode; code != kerr.NotCoordinator.Code {
		t.Errorf("Heartbeat for %s on broker %d (coordinator %d) answered %d, want NOT_COORDINATOR", group, other, coord, code)
	}

	ledger := ackcheck.NewLedger()
	prod := kafkatest.NewNonIdempotentProducer(t, c.brokers[other].Addr)
	kafkatest.ProduceSync(t, prod, ledger, topic, partitions, "before", 600)
	consumed := consume(t, c.addrs(), topic, group, 600)
	t.Logf("a group member coordinated by broker %d consumed and committed %d records", coord, consumed)

	// Kill the coordinator; the group moves with its committed offsets.
	c.brokers[coord].Kill()
	kafkatest.WaitUntil(t, 30*time.Second, "a live coordinator for the group", func() error {
		for _, id := range c.live() {
			owner, code, err := c.coordinatorOf(id, group)
			if err != nil || code != 0 || owner == coord {
				return fmt.Errorf("broker %d: coordinator %d, code %d, err %v", id, owner, code, err)
			}
		}
		return nil
	})
	prod2 := kafkatest.NewNonIdempotentProducer(t, c.addrs()[0])
	kafkatest.ProduceSync(t, prod2, ledger, topic, partitions, "after", 300)
	// A new member of the group starts at the committed offsets: only the 300 new records.
	if n := consume(t, c.addrs(), topic, group, 300); n != 300 {
		t.Errorf("after the coordinator moved, the group consumed %d records, want exactly the 300 new ones", n)
	}
}

// consume runs one group member until it has consumed want records (and committed them),
// and returns how many it consumed; a record beyond want, within a short wait, counts too.
func consume(t *testing.T, seeds []string, topic, group string, want int) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s in group %s: %v", n, want, topic, group, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		n += fs.NumRecords()
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("cannot commit offsets of group %s: %v", group, err)
		}
	}
	// Anything more would be a record consumed twice.
	extra, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	n += cl.PollFetches(extra).NumRecords()
	return n
}
