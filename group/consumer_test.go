package group

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
)

// cmemberClient is a KIP-848 member as a client sees itself: its id, epoch and owned
// partitions, which it updates from every answer (revoking at once).
type cmemberClient struct {
	h     *harness
	group string
	id    string
	epoch int32
	owned map[tp]bool
}

func (h *harness) cjoin(group, id string, topics ...string) *cmemberClient {
	h.t.Helper()
	m := &cmemberClient{h: h, group: group, id: id, owned: map[tp]bool{}}
	r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{
		Group: group, MemberID: id, ClientID: "client", ClientHost: "/127.0.0.1",
		RebalanceTimeout: testRebalance, SubscribedTopicNames: topics, Owned: []TopicPartitions{}, RequireMemberID: true,
	})
	if r.Err != nil || r.MemberID != id || !r.HasAssignment || r.HeartbeatInterval != DefaultConsumerHeartbeat {
		h.t.Fatalf("join of %s = %+v", id, r)
	}
	m.take(r)
	return m
}

func (m *cmemberClient) take(r ConsumerHeartbeatResponse) {
	m.epoch = r.MemberEpoch
	if r.HasAssignment {
		m.owned = fromTopicPartitions(r.Assignment)
	}
}

// beat sends a full heartbeat reporting what the member owns and applies the answer.
func (m *cmemberClient) beat() ConsumerHeartbeatResponse {
	m.h.t.Helper()
	r := m.h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{
		Group: m.group, MemberID: m.id, MemberEpoch: m.epoch, RebalanceTimeout: -1,
		Owned: toTopicPartitions(m.owned), RequireMemberID: true,
	})
	if r.Err == nil {
		m.take(r)
	}
	return r
}

// settle heartbeats every member until none changes, checking after each heartbeat that
// no partition is owned twice.
func (h *harness) settle(ms ...*cmemberClient) {
	h.t.Helper()
	for range 10 {
		changed := false
		for _, m := range ms {
			before := fmt.Sprint(m.epoch, toTopicPartitions(m.owned))
			if r := m.beat(); r.Err != nil {
				h.t.Fatalf("heartbeat of %s: %v", m.id, r.Err)
			}
			changed = changed || fmt.Sprint(m.epoch, toTopicPartitions(m.owned)) != before
			h.checkExclusive(ms...)
		}
		if !changed {
			return
		}
	}
	h.t.Fatal("members did not settle in 10 rounds")
}

func (h *harness) checkExclusive(ms ...*cmemberClient) {
	h.t.Helper()
	seen := map[tp]string{}
	for _, m := range ms {
		for x := range m.owned {
			if o, dup := seen[x]; dup {
				h.t.Fatalf("partition %v owned by %s and %s", x, o, m.id)
			}
			seen[x] = m.id
		}
	}
}

func count(ms ...*cmemberClient) []int {
	var out []int
	for _, m := range ms {
		out = append(out, len(m.owned))
	}
	return out
}

func TestConsumerGroupFirstMemberGetsEverything(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 4)
	m := h.cjoin("g", "m1", "t")
	if m.epoch != 1 || len(m.owned) != 4 {
		t.Fatalf("first member: epoch %d, %d partitions; want 1 and 4", m.epoch, len(m.owned))
	}
	// A keepalive (nothing set) gets no assignment and keeps the epoch.
	r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "m1", MemberEpoch: 1, RebalanceTimeout: -1})
	if r.Err != nil || r.HasAssignment || r.MemberEpoch != 1 {
		t.Fatalf("keepalive = %+v", r)
	}
	d := h.c.DescribeConsumerGroup("g")
	if d.State != "Stable" || d.Epoch != 1 || d.AssignmentEpoch != 1 || d.AssignorName != AssignorUniform || len(d.Members) != 1 {
		t.Fatalf("describe = %+v", d)
	}
}

func TestConsumerGroupHandsPartitionsOverOnlyAfterRevocation(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 6)
	m1 := h.cjoin("g", "m1", "t")
	m2 := h.cjoin("g", "m2", "t")
	// m2 is at the new epoch, but its partitions are still m1's.
	if m2.epoch != 2 || len(m2.owned) != 0 {
		t.Fatalf("second member: epoch %d, owns %d; want epoch 2 owning nothing yet", m2.epoch, len(m2.owned))
	}
	if got := h.c.DescribeConsumerGroup("g").State; got != "Reconciling" {
		t.Fatalf("state = %s, want Reconciling", got)
	}
	// m1 is told to keep 3 (revoking the rest) at its old epoch.
	r := m1.beat()
	if r.Err != nil || m1.epoch != 1 || len(m1.owned) != 3 {
		t.Fatalf("m1 after the target changed: epoch %d owns %d (%+v), want epoch 1 owning 3", m1.epoch, len(m1.owned), r)
	}
	// Until m1 reports the revocation done, m2 gets nothing.
	if m2.beat(); len(m2.owned) != 0 {
		t.Fatalf("m2 got partitions m1 has not released: %v", m2.owned)
	}
	h.settle(m1, m2)
	if m1.epoch != 2 || m2.epoch != 2 || len(m1.owned) != 3 || len(m2.owned) != 3 {
		t.Fatalf("settled: epochs %d/%d, counts %v; want epoch 2 and 3+3", m1.epoch, m2.epoch, count(m1, m2))
	}
	if got := h.c.DescribeConsumerGroup("g").State; got != "Stable" {
		t.Fatalf("state = %s, want Stable", got)
	}
}

func TestConsumerGroupLeaveAndSessionTimeoutRebalance(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 6)
	ms := []*cmemberClient{h.cjoin("g", "a", "t"), h.cjoin("g", "b", "t"), h.cjoin("g", "c", "t")}
	h.settle(ms...)
	if fmt.Sprint(count(ms...)) != "[2 2 2]" {
		t.Fatalf("counts %v, want 2 each", count(ms...))
	}
	r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "c", MemberEpoch: -1, RequireMemberID: true})
	if r.Err != nil || r.MemberEpoch != -1 {
		t.Fatalf("leave = %+v", r)
	}
	h.settle(ms[0], ms[1])
	if fmt.Sprint(count(ms[0], ms[1])) != "[3 3]" {
		t.Fatalf("after a leave: counts %v, want 3 each", count(ms[0], ms[1]))
	}
	// b stops heartbeating; a keeps going and takes everything after b's session.
	for range 10 {
		h.clk.Advance(DefaultConsumerSession / 8)
		ms[0].beat()
	}
	h.settle(ms[0])
	if len(ms[0].owned) != 6 {
		t.Fatalf("after b's session expired a owns %d, want 6", len(ms[0].owned))
	}
	if r := ms[1].beat(); r.Err != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of the expired member = %v, want UNKNOWN_MEMBER_ID", r.Err)
	}
}

func TestConsumerMemberThatDoesNotRevokeIsFenced(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 4)
	m1 := h.cjoin("g", "m1", "t")
	all := m1.owned
	m2 := h.cjoin("g", "m2", "t")
	m1.beat()
	// m1 ignores the revocation: it keeps reporting everything.
	for range 4 {
		h.clk.Advance(testRebalance / 4)
		m1.owned = all
		m1.beat()
		m2.beat()
	}
	if r := m1.beat(); r.Err != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of a member past its rebalance timeout = %v, want UNKNOWN_MEMBER_ID", r.Err)
	}
	h.settle(m2)
	if len(m2.owned) != 4 {
		t.Fatalf("m2 owns %d, want all 4", len(m2.owned))
	}
}

func TestConsumerHeartbeatEpochFencing(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 2)
	m := h.cjoin("g", "m", "t")
	x := h.cjoin("g", "x", "t")
	h.settle(m, x)
	h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "x", MemberEpoch: -1})
	h.settle(m)
	if m.epoch != 3 {
		t.Fatalf("epoch = %d, want 3", m.epoch)
	}
	for _, tc := range []struct {
		name  string
		id    string
		epoch int32
		owned []TopicPartitions
		want  *kerr.Error
	}{
		{"a future epoch", "m", m.epoch + 1, nil, kerr.FencedMemberEpoch},
		{"an old epoch that is not the previous one", "m", 1, nil, kerr.FencedMemberEpoch},
		{"the previous epoch owning more than its assignment", "m", 2, []TopicPartitions{{Partitions: []int32{7}}}, kerr.FencedMemberEpoch},
		{"an unknown member", "x", 1, nil, kerr.UnknownMemberID},
		{"the previous epoch owning its assignment (a lost answer)", "m", 2, toTopicPartitions(m.owned), nil},
	} {
		r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: tc.id, MemberEpoch: tc.epoch, RebalanceTimeout: -1, Owned: tc.owned})
		if r.Err != tc.want {
			t.Errorf("heartbeat with %s = %v, want %v", tc.name, r.Err, tc.want)
		}
	}
	if r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "gone", MemberID: "m", MemberEpoch: 3, RebalanceTimeout: -1}); r.Err != kerr.UnknownMemberID {
		t.Errorf("heartbeat to a group that does not exist (a restarted coordinator) = %v, want UNKNOWN_MEMBER_ID", r.Err)
	}
}

func TestConsumerHeartbeatBadInput(t *testing.T) {
	h := newHarness(t)
	bad := "("
	other := "sticky"
	valid := func() ConsumerHeartbeatRequest {
		return ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, SubscribedTopicNames: []string{"t"}, Owned: []TopicPartitions{}, RequireMemberID: true}
	}
	for _, tc := range []struct {
		name string
		mod  func(*ConsumerHeartbeatRequest)
		want *kerr.Error
	}{
		{"empty group id", func(r *ConsumerHeartbeatRequest) { r.Group = "" }, kerr.InvalidRequest},
		{"empty member id at v1", func(r *ConsumerHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest},
		{"owned partitions on join", func(r *ConsumerHeartbeatRequest) { r.Owned = []TopicPartitions{{Partitions: []int32{0}}} }, kerr.InvalidRequest},
		{"null owned partitions on join", func(r *ConsumerHeartbeatRequest) { r.Owned = nil }, kerr.InvalidRequest},
		{"no subscription on join", func(r *ConsumerHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest},
		{"no rebalance timeout on join", func(r *ConsumerHeartbeatRequest) { r.RebalanceTimeout = -1 }, kerr.InvalidRequest},
		{"epoch below -2", func(r *ConsumerHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest},
		{"static leave without instance id", func(r *ConsumerHeartbeatRequest) { r.MemberEpoch = -2 }, kerr.InvalidRequest},
		{"an unknown assignor", func(r *ConsumerHeartbeatRequest) { r.ServerAssignor = &other }, kerr.UnsupportedAssignor},
		{"a bad regex", func(r *ConsumerHeartbeatRequest) { r.SubscribedTopicRegex = &bad }, kerr.InvalidRegularExpression},
	} {
		req := valid()
		tc.mod(&req)
		if r := h.c.ConsumerHeartbeat(req); r.Err != tc.want {
			t.Errorf("heartbeat with %s = %v (%s), want %v", tc.name, r.Err, r.ErrMessage, tc.want)
		}
	}
	if gs, _ := h.c.ListGroups(context.Background()); len(gs) != 0 {
		t.Fatalf("bad heartbeats left groups behind: %+v", gs)
	}
	// v0 lets the coordinator name the member.
	req := valid()
	req.MemberID, req.RequireMemberID = "", false
	if r := h.c.ConsumerHeartbeat(req); r.Err != nil || r.MemberID == "" {
		t.Fatalf("v0 join without a member id = %+v, want a member id", r)
	}
}

func TestClassicAndConsumerGroupsDoNotMix(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 2)
	h.stable("classic", 1)
	r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "classic", MemberID: "m", RebalanceTimeout: time.Second, SubscribedTopicNames: []string{"t"}, Owned: []TopicPartitions{}})
	if r.Err != kerr.GroupIDNotFound {
		t.Fatalf("ConsumerGroupHeartbeat to a classic group with members = %v, want GROUP_ID_NOT_FOUND", r.Err)
	}
	m := h.cjoin("modern", "m", "t")
	if jr := h.join(joinReq("modern", "")).get(); jr.Err != kerr.InconsistentGroupProtocol {
		t.Fatalf("JoinGroup to a consumer group with members = %+v, want INCONSISTENT_GROUP_PROTOCOL", jr)
	}
	if d := h.c.DescribeGroup(context.Background(), "modern"); d.State != "Dead" {
		t.Fatalf("DescribeGroups of a consumer group = %+v, want Dead as in Kafka", d)
	}
	if d := h.c.DescribeConsumerGroup("classic"); d.Err != kerr.GroupIDNotFound {
		t.Fatalf("ConsumerGroupDescribe of a classic group = %v, want GROUP_ID_NOT_FOUND", d.Err)
	}
	gs, _ := h.c.ListGroups(context.Background())
	if len(gs) != 2 || gs[1] != (GroupListing{Group: "modern", ProtocolType: "consumer", State: "Stable", Type: "consumer"}) {
		t.Fatalf("ListGroups = %+v", gs)
	}
	if e := h.c.DeleteGroup(context.Background(), "modern"); e != kerr.NonEmptyGroup {
		t.Fatalf("DeleteGroups of a consumer group with members = %v", e)
	}
	// Once empty, the group may switch protocol.
	h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "modern", MemberID: m.id, MemberEpoch: -1})
	_, w := h.joinNew(joinReq("modern", ""))
	h.clk.Advance(testDelay)
	if jr := w.get(); jr.Err != nil {
		t.Fatalf("JoinGroup to an emptied consumer group = %+v", jr)
	}
}

func TestConsumerGroupCommitsAndFetches(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	t1 := h.topics.set("t", 2)
	m1 := h.cjoin("g", "m1", "t")
	off := func(p int32) []meta.GroupOffset {
		return []meta.GroupOffset{{Partition: meta.PartitionKey{TopicID: t1.ID, Partition: p}, Offset: 1}}
	}
	m2 := h.cjoin("g", "m2", "t")
	h.settle(m1, m2)
	var mine, theirs int32
	for x := range m1.owned {
		mine = x.p
	}
	for x := range m2.owned {
		theirs = x.p
	}
	for _, tc := range []struct {
		name string
		req  CommitRequest
		want *kerr.Error
	}{
		{"the current epoch", CommitRequest{Group: "g", MemberID: "m1", Generation: m1.epoch, Offsets: off(mine), Version: 9}, nil},
		{"OffsetCommit before v9", CommitRequest{Group: "g", MemberID: "m1", Generation: m1.epoch, Offsets: off(mine), Version: 8}, kerr.UnsupportedVersion},
		{"a future epoch", CommitRequest{Group: "g", MemberID: "m1", Generation: m1.epoch + 1, Offsets: off(mine), Version: 9}, kerr.StaleMemberEpoch},
		{"an older epoch, for a partition held since then (KIP-1251)", CommitRequest{Group: "g", MemberID: "m1", Generation: 1, Offsets: off(mine), Version: 9}, nil},
		{"an older epoch, for a partition it no longer holds", CommitRequest{Group: "g", MemberID: "m1", Generation: 1, Offsets: off(theirs), Version: 9}, kerr.StaleMemberEpoch},
		{"an unknown member", CommitRequest{Group: "g", MemberID: "x", Generation: 1, Offsets: off(mine), Version: 9}, kerr.UnknownMemberID},
		{"no member, to a group with members", CommitRequest{Group: "g", Generation: -1, Offsets: off(mine), Version: 9}, kerr.UnknownMemberID},
	} {
		if errs := h.c.CommitOffsets(ctx, tc.req); errs[0] != tc.want {
			t.Errorf("commit with %s = %v, want %v", tc.name, errs[0], tc.want)
		}
	}
	id, stale := "m1", m1.epoch-1
	if _, e := h.c.FetchOffsets(ctx, "g", &id, stale); e != kerr.StaleMemberEpoch {
		t.Errorf("fetch at a stale epoch = %v, want STALE_MEMBER_EPOCH", e)
	}
	if got, e := h.c.FetchOffsets(ctx, "g", &id, m1.epoch); e != nil || len(got) != 1 {
		t.Errorf("fetch at the member's epoch = %v, %v", got, e)
	}
	if _, e := h.c.FetchOffsets(ctx, "g", nil, -1); e != nil {
		t.Errorf("admin fetch = %v", e)
	}
}

func TestConsumerGroupFollowsTopicMetadata(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 2)
	m := h.cjoin("g", "m", "t", "later")
	if len(m.owned) != 2 {
		t.Fatalf("owns %d, want 2", len(m.owned))
	}
	h.topics.set("t", 3)
	h.topics.set("later", 2)
	h.settle(m)
	if len(m.owned) != 5 || m.epoch != 2 {
		t.Fatalf("after partitions were added and a subscribed topic created: owns %d at epoch %d, want 5 at 2", len(m.owned), m.epoch)
	}
	h.topics.remove("later")
	h.settle(m)
	if len(m.owned) != 3 {
		t.Fatalf("after a subscribed topic was deleted: owns %d, want 3", len(m.owned))
	}
}

func TestConsumerGroupRegexSubscription(t *testing.T) {
	h := newHarness(t)
	h.topics.set("orders-eu", 1)
	h.topics.set("orders-us", 2)
	h.topics.set("payments", 4)
	re := "orders-.*"
	r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, SubscribedTopicRegex: &re, Owned: []TopicPartitions{}})
	if r.Err != nil || len(fromTopicPartitions(r.Assignment)) != 3 {
		t.Fatalf("regex join = %+v, want the 3 partitions of orders-*", r)
	}
	d := h.c.DescribeConsumerGroup("g")
	if d.Members[0].SubscribedTopicRegex == nil || *d.Members[0].SubscribedTopicRegex != re {
		t.Fatalf("describe = %+v", d.Members[0])
	}
}

func TestConsumerStaticMemberComesBack(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 4)
	inst := "i1"
	join := func(id string) ConsumerHeartbeatResponse {
		return h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: id, InstanceID: &inst, RebalanceTimeout: testRebalance, SubscribedTopicNames: []string{"t"}, Owned: []TopicPartitions{}})
	}
	r := join("old")
	if r.Err != nil || len(r.Assignment) == 0 {
		t.Fatalf("static join = %+v", r)
	}
	owned := fromTopicPartitions(r.Assignment)
	other := h.cjoin("g", "other", "t")
	if r := join("new"); r.Err != kerr.UnreleasedInstanceID {
		t.Fatalf("join with an instance id in use = %v, want UNRELEASED_INSTANCE_ID", r.Err)
	}
	if r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "old", InstanceID: &inst, MemberEpoch: -2}); r.Err != nil || r.MemberEpoch != -2 {
		t.Fatalf("static leave = %+v", r)
	}
	// The static member's partitions stay reserved.
	h.settle(other)
	if len(other.owned) != 0 {
		t.Fatalf("other member took %d partitions of a static member that left for a moment", len(other.owned))
	}
	// The new incarnation takes the old one's place: its partitions (those of its
	// target), without a rebalance of the others.
	epoch := h.c.DescribeConsumerGroup("g").Epoch
	r = join("new")
	got := fromTopicPartitions(r.Assignment)
	if r.Err != nil || len(got) != 2 {
		t.Fatalf("static rejoin = %+v, want its 2 target partitions", r)
	}
	for x := range got {
		if !owned[x] {
			t.Fatalf("static rejoin got %v, which the old incarnation did not own", x)
		}
	}
	if d := h.c.DescribeConsumerGroup("g"); d.Epoch != epoch || len(d.Members) != 2 {
		t.Fatalf("after the static rejoin: epoch %d (was %d), %d members", d.Epoch, epoch, len(d.Members))
	}
	h.settle(other)
	if len(other.owned) != 2 {
		t.Fatalf("other member owns %d, want the 2 the static member released", len(other.owned))
	}
}

func TestAssignors(t *testing.T) {
	t1, t2 := [16]byte{1}, [16]byte{2}
	topics := map[[16]byte]int32{t1: 5, t2: 5}
	both := map[[16]byte]bool{t1: true, t2: true}
	t.Run("range gives contiguous co-partitioned ranges", func(t *testing.T) {
		out := assign(AssignorRange, []assignMember{{id: "a", topics: both}, {id: "b", topics: both}}, topics)
		if fmt.Sprint(toTopicPartitions(out["a"])) != fmt.Sprint([]TopicPartitions{{t1, []int32{0, 1, 2}}, {t2, []int32{0, 1, 2}}}) {
			t.Fatalf("a = %v", toTopicPartitions(out["a"]))
		}
		if len(out["b"]) != 4 {
			t.Fatalf("b = %v", toTopicPartitions(out["b"]))
		}
	})
	t.Run("uniform balances, is sticky, and respects subscriptions", func(t *testing.T) {
		ms := []assignMember{{id: "a", topics: both}, {id: "b", topics: map[[16]byte]bool{t1: true}}}
		out := assign(AssignorUniform, ms, topics)
		checkAssignment(t, ms, topics, out)
		for x := range out["b"] {
			if x.id != t1 {
				t.Fatalf("b got %v of a topic it does not subscribe to", x)
			}
		}
		// A third member: the others keep what they can.
		ms = []assignMember{{id: "a", topics: both, prev: out["a"]}, {id: "b", topics: both, prev: out["b"]}, {id: "c", topics: both}}
		next := assign(AssignorUniform, ms, topics)
		checkAssignment(t, ms, topics, next)
		moved := 0
		for _, m := range []string{"a", "b"} {
			for x := range out[m] {
				if !next[m][x] {
					moved++
				}
			}
		}
		counts := []int{len(next["a"]), len(next["b"]), len(next["c"])}
		slices.Sort(counts)
		if fmt.Sprint(counts) != "[3 3 4]" || moved != len(next["c"]) {
			t.Fatalf("after c joined: counts %v, %d partitions moved (c has %d)", counts, moved, len(next["c"]))
		}
	})
}

// checkAssignment fails t unless every partition of a subscribed topic is assigned to
// exactly one subscriber and counts differ by at most one among members of equal
// subscriptions.
func checkAssignment(t *testing.T, ms []assignMember, topics map[[16]byte]int32, out map[string]map[tp]bool) {
	t.Helper()
	seen := map[tp]string{}
	for _, m := range ms {
		for x := range out[m.id] {
			if o, dup := seen[x]; dup {
				t.Fatalf("%v assigned to %s and %s", x, o, m.id)
			}
			if !m.topics[x.id] {
				t.Fatalf("%v assigned to %s, which does not subscribe to it", x, m.id)
			}
			seen[x] = m.id
		}
	}
	total := 0
	for _, n := range topics {
		total += int(n)
	}
	if len(seen) != total {
		t.Fatalf("%d of %d partitions assigned", len(seen), total)
	}
}

// TestConsumerGroupWhoseMembersLeftIsEmpty: a KIP-848 group whose members left or expired
// stays, Empty, with its epochs (it used to be forgotten: GROUP_ID_NOT_FOUND), as in
// Kafka; DeleteGroups deletes it, and a member joining it later moves the epoch on.
func TestConsumerGroupWhoseMembersLeftIsEmpty(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.topics.set("t", 4)
	a, b := h.cjoin("g", "a", "t"), h.cjoin("g", "b", "t")
	h.settle(a, b)
	if r := h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: -1, RequireMemberID: true}); r.Err != nil {
		t.Fatalf("leave = %+v", r)
	}
	h.clk.Advance(DefaultConsumerSession + time.Second) // b stops heartbeating
	d := h.c.DescribeConsumerGroup("g")
	if d.Err != nil || d.State != "Empty" || len(d.Members) != 0 || d.Epoch < b.epoch+2 || d.AssignmentEpoch != d.Epoch {
		t.Fatalf("ConsumerGroupDescribe = %+v, want Empty at epoch %d or later, no member", d, b.epoch+2)
	}
	gs, _ := h.c.ListGroups(ctx)
	if want := (GroupListing{Group: "g", ProtocolType: "consumer", State: "Empty", Type: "consumer"}); len(gs) != 1 || gs[0] != want {
		t.Fatalf("ListGroups = %+v, want %+v", gs, want)
	}
	c := h.cjoin("g", "c", "t")
	if c.epoch != d.Epoch+1 {
		t.Fatalf("a member joining the Empty group got epoch %d, want %d", c.epoch, d.Epoch+1)
	}
	h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "c", MemberEpoch: -1, RequireMemberID: true})
	if e := h.c.DeleteGroup(ctx, "g"); e != nil {
		t.Fatalf("DeleteGroups of the Empty consumer group = %v", e)
	}
	if d := h.c.DescribeConsumerGroup("g"); d.Err != kerr.GroupIDNotFound {
		t.Fatalf("ConsumerGroupDescribe after DeleteGroups = %+v, want GROUP_ID_NOT_FOUND", d)
	}
}

// TestEmptyGroupTakingTheOtherProtocolStartsOver: an Empty group joined by a member of
// the other protocol is a new group, as Kafka deletes the empty one and creates another:
// the classic generation and the consumer epoch start again.
func TestEmptyGroupTakingTheOtherProtocolStartsOver(t *testing.T) {
	h := newHarness(t)
	h.topics.set("t", 2)
	rs := h.stable("g", 1)
	h.c.Leave("g", []LeaveMember{{MemberID: rs[0].MemberID}}) // Empty at generation 2
	m := h.cjoin("g", "m", "t")
	if m.epoch != 1 {
		t.Fatalf("first consumer member's epoch = %d, want 1", m.epoch)
	}
	h.c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: -1, RequireMemberID: true})
	_, w := h.joinNew(joinReq("g", ""))
	h.clk.Advance(testDelay)
	if r := w.get(); r.Err != nil || r.Generation != 1 {
		t.Fatalf("JoinGroup = %+v, want generation 1", r)
	}
}
