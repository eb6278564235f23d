package group

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
)

// expireNow runs ExpireOffsets and fails the test on error.
func (h *harness) expireNow() int {
	h.t.Helper()
	n, err := h.c.ExpireOffsets(context.Background())
	if err != nil {
		h.t.Fatalf("ExpireOffsets: %v", err)
	}
	return n
}

// storedOffsets is how many offsets the store holds for group.
func (h *harness) storedOffsets(group string) int {
	h.t.Helper()
	offs, err := h.store.FetchOffsets(context.Background(), group)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(offs)
}

// commitAt commits n simple offsets for group, dated at (and expiring at expire, 0: never
// by itself).
func (h *harness) commitAt(group string, n int, at time.Time, expire int64) {
	h.t.Helper()
	offs := offsets(n)
	for i := range offs {
		offs[i].CommitUnixMs = at.UnixMilli()
		offs[i].ExpireUnixMs = expire
	}
	if err := h.store.CommitOffsets(context.Background(), group, offs); err != nil {
		h.t.Fatal(err)
	}
}

// TestOffsetsOfAGroupWithoutMembersExpireAfterRetention: offsets committed by a client
// that never joins (Flink, assign()) expire together retention after the group's newest
// commit, not a minute earlier, and the group then no longer exists.
func TestOffsetsOfAGroupWithoutMembersExpireAfterRetention(t *testing.T) {
	h := newHarness(t)
	retention := h.c.Config().OffsetsRetention
	h.commitAt("flink", 2, h.clk.Now(), 0)
	h.clk.Advance(time.Hour)
	h.commitAt("flink", 3, h.clk.Now(), 0) // partition 2 is new; 0 and 1 are re-committed
	h.clk.Advance(retention - time.Minute)
	if n := h.expireNow(); n != 0 || h.storedOffsets("flink") != 3 {
		t.Fatalf("a minute before retention after the newest commit: %d expired, %d left; want 0, 3", n, h.storedOffsets("flink"))
	}
	h.clk.Advance(time.Minute)
	if n := h.expireNow(); n != 3 || h.storedOffsets("flink") != 0 {
		t.Fatalf("at retention after the newest commit: %d expired, %d left; want 3, 0", n, h.storedOffsets("flink"))
	}
	if names, _ := h.store.ListGroups(context.Background()); slices.Contains(names, "flink") {
		t.Fatalf("the group whose offsets all expired is still listed: %v", names)
	}
}

// TestOffsetsOfAGroupWithMembersDoNotExpire: however old its commits, a group with
// members keeps them; once its last member leaves, the retention counts from then.
func TestOffsetsOfAGroupWithMembersDoNotExpire(t *testing.T) {
	h := newHarness(t)
	retention := h.c.Config().OffsetsRetention
	rs := h.stable("g", 1)
	h.commitAt("g", 2, h.clk.Now().Add(-30*24*time.Hour), 0)
	if n := h.expireNow(); n != 0 || h.storedOffsets("g") != 2 {
		t.Fatalf("a group with a member lost %d of its offsets, %d left", n, h.storedOffsets("g"))
	}
	for range 720 { // an hour passes; heartbeats keep the member

		if e := h.heartbeat("g", rs[0].MemberID, rs[0].Generation); e != nil {
			t.Fatalf("heartbeat: %v", e)
		}
		h.clk.Advance(testSession / 2)
	}
	if resp := h.c.Leave("g", []LeaveMember{{MemberID: rs[0].MemberID}}); resp.Err != nil || resp.Members[0] != nil {
		t.Fatalf("Leave = %+v", resp)
	}
	if n := h.expireNow(); n != 0 {
		t.Fatalf("right after its last member left, the group lost %d offsets; want retention to count from the leave", n)
	}
	h.clk.Advance(retention - time.Minute)
	if n := h.expireNow(); n != 0 {
		t.Fatalf("a minute before retention after the leave, %d offsets expired", n)
	}
	if got := h.state("g"); got != "Empty" {
		t.Fatalf("while its offsets are kept, the group is %s, want Empty", got)
	}
	h.clk.Advance(time.Minute)
	if n := h.expireNow(); n != 2 {
		t.Fatalf("at retention after the leave, %d offsets expired, want 2", n)
	}
	if got := h.state("g"); got != "Dead" {
		t.Fatalf("once its offsets expired, the group is %s, want Dead (removed)", got)
	}
}

// TestExpiryRemovesEmptyGroupsWithoutOffsets: as Kafka's periodic cleanup, ExpireOffsets
// forgets the Empty groups, classic or consumer, that have no committed offsets, so
// memory holds only what clients left within one check interval; an Empty group with
// offsets, a group with members and a group with a member waiting to rejoin stay.
func TestExpiryRemovesEmptyGroupsWithoutOffsets(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.topics.set("t", 2)
	for _, name := range []string{"classic", "committed"} {
		rs := h.stable(name, 1)
		if name == "committed" {
			h.c.CommitOffsets(ctx, CommitRequest{Group: name, MemberID: rs[0].MemberID, Generation: rs[0].Generation, Offsets: offsets(1)})
		}
		h.c.Leave(name, []LeaveMember{{MemberID: rs[0].MemberID}})
	}
	h.cjoin("consumer", "m", "t")
	h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "consumer", MemberID: "m", MemberEpoch: -1, RequireMemberID: true})
	h.stable("live", 1)
	h.join(joinReq("pending", "")).get() // MEMBER_ID_REQUIRED: a member is on its way
	if d := h.c.DescribeConsumerGroup("consumer"); d.State != "Empty" {
		t.Fatalf("before the check, the consumer group is %+v, want Empty", d)
	}

	if n := h.expireNow(); n != 0 {
		t.Fatalf("%d offsets expired, want none", n)
	}
	for group, want := range map[string]string{"classic": "Dead", "committed": "Empty", "live": "Stable", "pending": "Empty"} {
		if got := h.state(group); got != want {
			t.Errorf("after the check, %s is %s, want %s", group, got, want)
		}
	}
	if d := h.c.DescribeConsumerGroup("consumer"); d.Err != kerr.GroupIDNotFound {
		t.Errorf("after the check, ConsumerGroupDescribe of the Empty consumer group = %+v, want GROUP_ID_NOT_FOUND", d)
	}
	gs, _ := h.c.ListGroups(ctx)
	var names []string
	for _, g := range gs {
		names = append(names, g.Group)
	}
	if !slices.Equal(names, []string{"committed", "live", "pending"}) {
		t.Errorf("ListGroups after the check = %+v", gs)
	}
	// The Empty group with offsets is still the one in memory: it kept its protocol type.
	if d := h.c.DescribeGroup(ctx, "committed"); d.ProtocolType != "consumer" {
		t.Errorf("DescribeGroup of the Empty group with offsets = %+v, want protocol type consumer", d)
	}
}

// TestOffsetsCommittedBeforeTheCoordinatorStartedWaitAFullRetention: the coordinator
// does not know when a stored group was last used before it started, so retention counts
// from its start at the earliest.
func TestOffsetsCommittedBeforeTheCoordinatorStartedWaitAFullRetention(t *testing.T) {
	h := newHarness(t)
	retention := h.c.Config().OffsetsRetention
	h.commitAt("old", 1, h.clk.Now().Add(-30*24*time.Hour), 0)
	if n := h.expireNow(); n != 0 {
		t.Fatalf("offsets committed before the coordinator started expired at once (%d)", n)
	}
	h.clk.Advance(retention)
	if n := h.expireNow(); n != 1 {
		t.Fatalf("a retention after the coordinator started, %d offsets expired, want 1", n)
	}
}

// TestOffsetWithItsOwnRetentionExpiresAtItsTime: OffsetCommit v2-v4 may name a retention
// per commit; such an offset expires at its own time, the group's others by the rule.
func TestOffsetWithItsOwnRetentionExpiresAtItsTime(t *testing.T) {
	h := newHarness(t)
	h.commitAt("v2", 1, h.clk.Now(), h.clk.Now().Add(time.Hour).UnixMilli())
	other := offsets(2)[1]
	other.CommitUnixMs = h.clk.Now().UnixMilli()
	if err := h.store.CommitOffsets(context.Background(), "v2", []meta.GroupOffset{other}); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Hour - time.Second)
	if n := h.expireNow(); n != 0 {
		t.Fatalf("before its own expiry, %d offsets expired", n)
	}
	h.clk.Advance(time.Second)
	if n := h.expireNow(); n != 1 || h.storedOffsets("v2") != 1 {
		t.Fatalf("at its own expiry: %d expired, %d left; want 1, 1", n, h.storedOffsets("v2"))
	}
}

func TestOffsetsRetentionSettingsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Config)
		flag string
	}{
		{func(c *Config) { c.OffsetsRetention = 0 }, "--offsets-retention"},
		{func(c *Config) { c.OffsetsRetentionCheckInterval = -time.Second }, "--offsets-retention-check-interval"},
	} {
		cfg := DefaultConfig()
		tc.set(&cfg)
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.flag+" ") {
			t.Errorf("Validate = %v, want an error naming %s", err, tc.flag)
		}
	}
}
