package group

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestFirstJoinWaitsTheInitialDelayThenFormsGenerationOne(t *testing.T) {
	h := newHarness(t)
	id1, w1 := h.joinNew(joinReq("g", ""))
	h.clk.Advance(testDelay / 2)
	id2, w2 := h.joinNew(joinReq("g", ""))
	h.clk.Advance(testDelay / 2)
	// A member joined during the delay: it is extended once more.
	w1.none()
	w2.none()
	h.clk.Advance(testDelay)
	r1, r2 := w1.get(), w2.get()
	if r1.Err != nil || r2.Err != nil || r1.Generation != 1 || r2.Generation != 1 {
		t.Fatalf("JoinGroup answers = %+v / %+v, want generation 1", r1, r2)
	}
	if r1.LeaderID != id1 || r2.LeaderID != id1 || r1.Protocol != "range" || r1.ProtocolType != "consumer" {
		t.Fatalf("leader %q / %q, want the first member %s; protocol %q", r1.LeaderID, r2.LeaderID, id1, r1.Protocol)
	}
	if len(r1.Members) != 2 || len(r2.Members) != 0 {
		t.Fatalf("leader got %d members, follower %d; want 2 and 0", len(r1.Members), len(r2.Members))
	}
	if got := h.state("g"); got != "CompletingRebalance" {
		t.Fatalf("state = %s", got)
	}
	h.syncAll("g", []JoinResponse{r1, r2})
	if got := h.state("g"); got != "Stable" {
		t.Fatalf("state after SyncGroup = %s", got)
	}
	_ = id2
}

func TestInitialDelayEndsAtTheRebalanceTimeout(t *testing.T) {
	h := newHarness(t)
	req := joinReq("g", "")
	req.RebalanceTimeout = 2 * testDelay
	_, w := h.joinNew(req)
	for i := 0; i < 5; i++ {
		// Members keep coming; the delay may not extend past the rebalance timeout.
		h.clk.Advance(testDelay - time.Millisecond)
		h.joinNew(joinReq("g", ""))
	}
	h.clk.Advance(testDelay)
	if r := w.get(); r.Err != nil {
		t.Fatalf("JoinGroup = %+v", r)
	}
}

func TestFollowerSyncWaitsForTheLeader(t *testing.T) {
	h := newHarness(t)
	_, w1 := h.joinNew(joinReq("g", ""))
	_, w2 := h.joinNew(joinReq("g", ""))
	h.clk.Advance(formDelay)
	r1, r2 := w1.get(), w2.get()
	leader, follower := r1, r2
	if r2.MemberID == r2.LeaderID {
		leader, follower = r2, r1
	}
	fw := h.sync(SyncRequest{Group: "g", MemberID: follower.MemberID, Generation: follower.Generation})
	fw.none()
	lw := h.sync(SyncRequest{Group: "g", MemberID: leader.MemberID, Generation: leader.Generation, Assignments: []Assignment{
		{MemberID: follower.MemberID, Assignment: []byte("f")},
		{MemberID: "not-a-member", Assignment: []byte("x")},
	}})
	if r := fw.get(); r.Err != nil || string(r.Assignment) != "f" || r.Protocol != "range" {
		t.Fatalf("follower SyncGroup = %+v", r)
	}
	if r := lw.get(); r.Err != nil || len(r.Assignment) != 0 {
		t.Fatalf("leader SyncGroup = %+v, want an empty assignment (the leader gave itself none)", r)
	}
}

func TestNewMemberRebalancesAStableGroupAndCompletesWhenAllRejoin(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 2)
	_, w3 := h.joinNew(joinReq("g", ""))
	if got := h.state("g"); got != "PreparingRebalance" {
		t.Fatalf("state = %s", got)
	}
	for _, r := range rs {
		if e := h.heartbeat("g", r.MemberID, r.Generation); e != kerr.RebalanceInProgress {
			t.Fatalf("heartbeat during the rebalance = %v, want REBALANCE_IN_PROGRESS", e)
		}
	}
	var ws []*wait[JoinResponse]
	for _, r := range rs {
		ws = append(ws, h.join(joinReq("g", r.MemberID)))
	}
	// Every member is back: no waiting for the rebalance timeout.
	for _, w := range append(ws, w3) {
		if r := w.get(); r.Err != nil || r.Generation != 2 || r.LeaderID != rs[0].MemberID {
			t.Fatalf("JoinGroup = %+v, want generation 2 led by %s", r, rs[0].MemberID)
		}
	}
}

func TestMemberThatDoesNotRejoinIsRemovedAtTheRebalanceTimeout(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 2)
	leave := rs[1]
	// The leader rejoins (a rebalance); the other never does, and keeps heartbeating.
	w := h.join(joinReq("g", rs[0].MemberID))
	for range 5 {
		h.clk.Advance(testSession / 2)
		h.heartbeat("g", leave.MemberID, leave.Generation)
	}
	w.none()
	h.clk.Advance(testRebalance)
	r := w.get()
	if r.Err != nil || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("JoinGroup = %+v, want generation 2 with the leader alone", r)
	}
	if e := h.heartbeat("g", leave.MemberID, leave.Generation); e != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of the removed member = %v, want UNKNOWN_MEMBER_ID", e)
	}
}

func TestSessionTimeoutRemovesASilentMember(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 2)
	alive, silent := rs[0], rs[1]
	for range 3 {
		h.clk.Advance(testSession / 3)
		if e := h.heartbeat("g", alive.MemberID, alive.Generation); e != nil {
			t.Fatalf("heartbeat = %v", e)
		}
	}
	h.clk.Advance(testSession / 3)
	if e := h.heartbeat("g", alive.MemberID, alive.Generation); e != kerr.RebalanceInProgress {
		t.Fatalf("heartbeat after the other member's session expired = %v, want REBALANCE_IN_PROGRESS", e)
	}
	r := h.join(joinReq("g", alive.MemberID)).get()
	if r.Err != nil || r.Generation != 2 || len(r.Members) != 1 || r.Members[0].MemberID != alive.MemberID {
		t.Fatalf("rejoin = %+v, want generation 2 without the silent member", r)
	}
	if e := h.heartbeat("g", silent.MemberID, silent.Generation); e != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of the expired member = %v, want UNKNOWN_MEMBER_ID", e)
	}
}

func TestFollowerThatNeverSyncsIsRemoved(t *testing.T) {
	h := newHarness(t)
	_, w1 := h.joinNew(joinReq("g", ""))
	_, w2 := h.joinNew(joinReq("g", ""))
	h.clk.Advance(formDelay)
	r1, r2 := w1.get(), w2.get()
	leader, follower := r1, r2
	if r2.MemberID == r2.LeaderID {
		leader, follower = r2, r1
	}
	if r := h.sync(SyncRequest{Group: "g", MemberID: leader.MemberID, Generation: leader.Generation}).get(); r.Err != nil {
		t.Fatalf("leader SyncGroup = %+v", r)
	}
	for range 6 {
		h.clk.Advance(testRebalance / 6)
		h.heartbeat("g", leader.MemberID, leader.Generation)
	}
	if e := h.heartbeat("g", follower.MemberID, follower.Generation); e != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of the member that never synced = %v, want UNKNOWN_MEMBER_ID", e)
	}
	if e := h.heartbeat("g", leader.MemberID, leader.Generation); e != kerr.RebalanceInProgress {
		t.Fatalf("leader heartbeat = %v, want REBALANCE_IN_PROGRESS", e)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 3)
	pendingID := h.join(joinReq("g", "")).get().MemberID
	resp := h.c.Leave("g", []LeaveMember{
		{MemberID: rs[1].MemberID, Reason: "shutting down"},
		{MemberID: "nobody"},
		{MemberID: pendingID},
	})
	if resp.Err != nil || resp.Members[0] != nil || resp.Members[1] != kerr.UnknownMemberID || resp.Members[2] != nil {
		t.Fatalf("LeaveGroup = %+v", resp)
	}
	if e := h.heartbeat("g", rs[0].MemberID, rs[0].Generation); e != kerr.RebalanceInProgress {
		t.Fatalf("heartbeat after a leave = %v, want REBALANCE_IN_PROGRESS", e)
	}
	if r := h.c.Leave("missing", []LeaveMember{{MemberID: "x"}}); r.Err != nil || r.Members[0] != kerr.UnknownMemberID {
		t.Fatalf("LeaveGroup of a missing group = %+v", r)
	}
}

// TestLastMemberLeavingEmptiesTheGroup: a group that never committed stays, Empty, with
// its protocol type once its last member leaves (it used to be forgotten, and answered
// GROUP_ID_NOT_FOUND), as in Kafka.
func TestLastMemberLeavingEmptiesTheGroup(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 1)
	if r := h.c.Leave("g", []LeaveMember{{MemberID: rs[0].MemberID}}); r.Members[0] != nil {
		t.Fatalf("LeaveGroup = %+v", r)
	}
	h.wantEmpty("g", "consumer")
	if e := h.heartbeat("g", rs[0].MemberID, rs[0].Generation); e != kerr.UnknownMemberID {
		t.Fatalf("heartbeat of the member that left = %v, want UNKNOWN_MEMBER_ID", e)
	}
}

// TestSessionExpiryOfTheLastMemberEmptiesTheGroup: as a leave does, the expiry of the
// last member's session leaves the group Empty, not gone.
func TestSessionExpiryOfTheLastMemberEmptiesTheGroup(t *testing.T) {
	h := newHarness(t)
	h.stable("g", 2)
	h.clk.Advance(testSession + time.Second) // nobody heartbeats
	h.wantEmpty("g", "consumer")
}

// TestMemberJoiningAnEmptiedGroupStartsTheNextGeneration: an Empty group keeps its
// generation (bumped when it emptied, as Kafka's does), so a new member gets the one
// after it, and the first rebalance waits the initial delay again.
func TestMemberJoiningAnEmptiedGroupStartsTheNextGeneration(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 1) // generation 1
	h.c.Leave("g", []LeaveMember{{MemberID: rs[0].MemberID}})
	// generation 2: the empty one
	_, w := h.joinNew(joinReq("g", ""))
	_, w2 := h.joinNew(joinReq("g", ""))
	h.clk.Advance(testDelay)
	w.none() // a second member came during the delay: it is extended
	h.clk.Advance(testDelay)
	r, r2 := w.get(), w2.get()
	if r.Err != nil || r.Generation != 3 || r2.Generation != 3 {
		t.Fatalf("JoinGroup = %+v, %+v; want generation 3", r, r2)
	}
}

// wantEmpty checks that group is described and listed Empty with protocolType and no
// members, and that DeleteGroups then deletes it although it never committed.
func (h *harness) wantEmpty(group, protocolType string) {
	h.t.Helper()
	ctx := context.Background()
	if d := h.c.DescribeGroup(ctx, group); d.Err != nil || d.State != "Empty" || d.ProtocolType != protocolType || d.Protocol != "" || len(d.Members) != 0 {
		h.t.Fatalf("DescribeGroup = %+v, want Empty with protocol type %q and no member", d, protocolType)
	}
	gs, e := h.c.ListGroups(ctx)
	want := GroupListing{Group: group, ProtocolType: protocolType, State: "Empty", Type: "classic"}
	if e != nil || !slices.Contains(gs, want) {
		h.t.Fatalf("ListGroups = %+v, %v; want %+v", gs, e, want)
	}
	if e := h.c.DeleteGroup(ctx, group); e != nil {
		h.t.Fatalf("DeleteGroup of the Empty group = %v", e)
	}
	if d := h.c.DescribeGroup(ctx, group); d.State != "Dead" {
		h.t.Fatalf("DescribeGroup after DeleteGroups = %+v, want Dead", d)
	}
	if e := h.c.DeleteGroup(ctx, group); e != kerr.GroupIDNotFound {
		h.t.Fatalf("second DeleteGroup = %v, want GROUP_ID_NOT_FOUND", e)
	}
}

func TestGenerationAndMemberFencing(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 1)
	m, gen := rs[0].MemberID, rs[0].Generation
	for _, tc := range []struct {
		name   string
		member string
		gen    int32
		want   *kerr.Error
	}{
		{"current member", m, gen, nil},
		{"stale generation", m, gen - 1, kerr.IllegalGeneration},
		{"future generation", m, gen + 1, kerr.IllegalGeneration},
		{"unknown member", "someone-else", gen, kerr.UnknownMemberID},
		{"empty member id", "", gen, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := h.heartbeat("g", tc.member, tc.gen); e != tc.want {
				t.Errorf("Heartbeat = %v, want %v", e, tc.want)
			}
			if r := h.sync(SyncRequest{Group: "g", MemberID: tc.member, Generation: tc.gen}).get(); r.Err != tc.want {
				t.Errorf("SyncGroup = %v, want %v", r.Err, tc.want)
			}
			errs := h.c.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: tc.member, Generation: tc.gen, Offsets: offsets(1)})
			if errs[0] != tc.want {
				t.Errorf("OffsetCommit = %v, want %v", errs[0], tc.want)
			}
		})
	}
	if e := h.heartbeat("missing", m, gen); e != kerr.UnknownMemberID {
		t.Errorf("heartbeat to a missing group = %v, want UNKNOWN_MEMBER_ID", e)
	}
	if r := h.join(joinReq("missing", m)).get(); r.Err != kerr.UnknownMemberID {
		t.Errorf("JoinGroup with a member id to a missing group = %+v, want UNKNOWN_MEMBER_ID", r)
	}
	if r := h.sync(SyncRequest{Group: "g", MemberID: m, Generation: gen, Protocol: ptr("roundrobin")}).get(); r.Err != kerr.InconsistentGroupProtocol {
		t.Errorf("SyncGroup naming another protocol = %+v, want INCONSISTENT_GROUP_PROTOCOL", r)
	}
}

func TestBadInputGetsKafkaErrors(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("g", DefaultMaxGroupIDBytes+1)
	for _, tc := range []struct {
		name string
		req  func(*JoinRequest)
		want *kerr.Error
	}{
		{"empty group id", func(r *JoinRequest) { r.Group = "" }, kerr.InvalidGroupID},
		{"oversize group id", func(r *JoinRequest) { r.Group = long }, kerr.InvalidGroupID},
		{"session timeout below the minimum", func(r *JoinRequest) { r.SessionTimeout = time.Second }, kerr.InvalidSessionTimeout},
		{"session timeout above the maximum", func(r *JoinRequest) { r.SessionTimeout = time.Hour }, kerr.InvalidSessionTimeout},
		{"no protocol type", func(r *JoinRequest) { r.ProtocolType = "" }, kerr.InconsistentGroupProtocol},
		{"no protocols", func(r *JoinRequest) { r.Protocols = nil }, kerr.InconsistentGroupProtocol},
		// Strings the group would echo in versions that cannot carry them (issue 19).
		{"protocol type over 32,767 bytes", func(r *JoinRequest) { r.ProtocolType = strings.Repeat("t", MaxNameBytes+1) }, kerr.InconsistentGroupProtocol},
		{"protocol name over 32,767 bytes", func(r *JoinRequest) {
			r.Protocols = append(r.Protocols, Protocol{Name: strings.Repeat("n", MaxNameBytes+1)})
		}, kerr.InconsistentGroupProtocol},
		{"group.instance.id over 32,767 bytes", func(r *JoinRequest) { id := strings.Repeat("i", MaxNameBytes+1); r.InstanceID = &id }, kerr.InvalidRequest},
		{"unknown member id", func(r *JoinRequest) { r.MemberID = "forged" }, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := joinReq("bad", "")
			tc.req(&req)
			if r := h.join(req).get(); r.Err != tc.want || r.Generation != -1 {
				t.Fatalf("JoinGroup = %+v, want %v", r, tc.want)
			}
		})
	}
	for _, id := range []string{"", long} {
		if e := h.heartbeat(id, "m", 1); e != kerr.InvalidGroupID {
			t.Errorf("Heartbeat(%.8q) = %v", id, e)
		}
		if r := h.sync(SyncRequest{Group: id}).get(); r.Err != kerr.InvalidGroupID {
			t.Errorf("SyncGroup(%.8q) = %v", id, r.Err)
		}
		if r := h.c.Leave(id, []LeaveMember{{MemberID: "m"}}); r.Err != kerr.InvalidGroupID {
			t.Errorf("LeaveGroup(%.8q) = %v", id, r.Err)
		}
		if errs := h.c.CommitOffsets(context.Background(), CommitRequest{Group: id, Generation: -1, Offsets: offsets(2)}); errs[0] != kerr.InvalidGroupID || errs[1] != kerr.InvalidGroupID {
			t.Errorf("OffsetCommit(%.8q) = %v", id, errs)
		}
		if _, e := h.c.FetchOffsets(context.Background(), id, nil, -1); e != kerr.InvalidGroupID {
			t.Errorf("OffsetFetch(%.8q) = %v", id, e)
		}
		if d := h.c.DescribeGroup(context.Background(), id); d.Err != kerr.InvalidGroupID {
			t.Errorf("DescribeGroups(%.8q) = %v", id, d.Err)
		}
		if e := h.c.DeleteGroup(context.Background(), id); e != kerr.InvalidGroupID {
			t.Errorf("DeleteGroups(%.8q) = %v", id, e)
		}
	}
	// Only the JoinGroups refused for their protocols left a group behind: Kafka checks
	// them once the group exists, and keeps the new group, Empty, without a protocol type.
	gs, _ := h.c.ListGroups(context.Background())
	if len(gs) != 1 || gs[0] != (GroupListing{Group: "bad", State: "Empty", Type: "classic"}) {
		t.Fatalf("groups after bad input: %+v, want only bad, Empty", gs)
	}
}

func TestInconsistentProtocolTypeIsRefused(t *testing.T) {
	h := newHarness(t)
	h.stable("g", 1)
	req := joinReq("g", "")
	req.ProtocolType = "connect"
	if r := h.join(req).get(); r.Err != kerr.InconsistentGroupProtocol {
		t.Fatalf("JoinGroup of another protocol type = %+v", r)
	}
	req = joinReq("g", "")
	req.Protocols = []Protocol{{Name: "roundrobin"}}
	if r := h.join(req).get(); r.Err != kerr.InconsistentGroupProtocol {
		t.Fatalf("JoinGroup with no common protocol = %+v", r)
	}
}

func TestAnyProtocolTypeIsPassedThrough(t *testing.T) {
	h := newHarness(t)
	req := joinReq("connect-cluster", "")
	req.ProtocolType = "connect"
	req.Protocols = []Protocol{{Name: "sessioned", Metadata: []byte{1, 2, 3}}, {Name: "default", Metadata: []byte{4}}}
	_, w := h.joinNew(req)
	h.clk.Advance(formDelay)
	r := w.get()
	if r.Err != nil || r.ProtocolType != "connect" || r.Protocol != "sessioned" || string(r.Members[0].Metadata) != "\x01\x02\x03" {
		t.Fatalf("JoinGroup = %+v", r)
	}
}

func TestProtocolIsChosenByVote(t *testing.T) {
	h := newHarness(t)
	// cooperative-sticky would win the vote, but the last member does not support it.
	prefs := [][]string{{"cooperative-sticky", "range"}, {"cooperative-sticky", "range"}, {"range", "cooperative-sticky"}, {"roundrobin", "range"}}
	var ws []*wait[JoinResponse]
	for _, p := range prefs {
		req := joinReq("g", "")
		req.Protocols = nil
		for _, name := range p {
			req.Protocols = append(req.Protocols, Protocol{Name: name})
		}
		_, w := h.joinNew(req)
		ws = append(ws, w)
	}
	h.clk.Advance(formDelay)
	for _, w := range ws {
		if r := w.get(); r.Protocol != "range" {
			t.Fatalf("protocol = %q, want range (the only one all support)", r.Protocol)
		}
	}
}

// TestEmptyProtocolNameIsAProtocol guards against a generation formed with the protocol
// named "" logging "BUG: no protocol common to all members": as in Kafka, "" is a
// protocol like any other, chosen by the same vote.
func TestEmptyProtocolNameIsAProtocol(t *testing.T) {
	var logged strings.Builder
	h := newHarness(t)
	h.c.log = slog.New(slog.NewTextHandler(&logged, nil))
	var ws []*wait[JoinResponse]
	for _, names := range [][]string{{""}, {"range", ""}} {
		req := joinReq("g", "")
		req.Protocols = nil
		for _, n := range names {
			req.Protocols = append(req.Protocols, Protocol{Name: n, Metadata: []byte(n)})
		}
		_, w := h.joinNew(req)
		ws = append(ws, w)
	}
	h.clk.Advance(formDelay)
	for _, w := range ws {
		if r := w.get(); r.Err != nil || r.Generation != 1 || r.Protocol != "" {
			t.Fatalf("JoinGroup = %+v, want generation 1 with protocol \"\"", r)
		}
	}
	if strings.Contains(logged.String(), "BUG:") {
		t.Fatalf("coordinator logged an internal error:\n%s", logged.String())
	}
}

// TestMemberIDFitsOldVersions guards against member ids longer than a non-flexible
// version carries: the id is the client id (up to 32,767 bytes) plus a dash and a UUID.
func TestMemberIDFitsOldVersions(t *testing.T) {
	for _, prefix := range []string{strings.Repeat("c", MaxNameBytes), strings.Repeat("é", MaxNameBytes/2)} {
		id := newMemberID(prefix, nil)
		if len(id) > MaxNameBytes || !utf8.ValidString(id) || !strings.HasPrefix(prefix, id[:len(id)-memberIDSuffix]) {
			t.Errorf("member id of a %d-byte client id: %d bytes, valid UTF-8 %v", len(prefix), len(id), utf8.ValidString(id))
		}
	}
	instance := "instance"
	if id := newMemberID("client", &instance); !strings.HasPrefix(id, "instance-") || len(id) != len("instance")+memberIDSuffix {
		t.Errorf("member id of a static member = %q", id)
	}
}

func TestStaticMemberRejoinKeepsAStableGroupStable(t *testing.T) {
	h := newHarness(t)
	inst := []string{"a", "b"}
	var ws []*wait[JoinResponse]
	for _, id := range inst {
		req := joinReq("g", "")
		req.InstanceID = ptr(id)
		// Static members skip MEMBER_ID_REQUIRED.
		ws = append(ws, h.join(req))
	}
	h.clk.Advance(formDelay)
	var rs []JoinResponse
	for _, w := range ws {
		rs = append(rs, w.get())
	}
	if !strings.HasPrefix(rs[0].MemberID, "a-") {
		t.Fatalf("static member id %q does not start with its instance id", rs[0].MemberID)
	}
	h.syncAll("g", rs)
	gen := rs[0].Generation

	// "b" restarts: it joins with no member id and the same instance id.
	req := joinReq("g", "")
	req.InstanceID = ptr("b")
	r := h.join(req).get()
	if r.Err != nil || r.Generation != gen || r.MemberID == rs[1].MemberID || len(r.Members) != 0 {
		t.Fatalf("static rejoin = %+v, want the same generation and a new member id", r)
	}
	if got := h.state("g"); got != "Stable" {
		t.Fatalf("state after a static rejoin = %s, want Stable (no rebalance)", got)
	}
	s := h.sync(SyncRequest{Group: "g", MemberID: r.MemberID, InstanceID: ptr("b"), Generation: gen}).get()
	if s.Err != nil || string(s.Assignment) != "a-"+rs[1].MemberID {
		t.Fatalf("SyncGroup of the rejoined static member = %+v, want its old assignment", s)
	}
	// The old incarnation is fenced.
	if e := h.c.Heartbeat(HeartbeatRequest{Group: "g", MemberID: rs[1].MemberID, InstanceID: ptr("b"), Generation: gen}); e != kerr.FencedInstanceID {
		t.Fatalf("heartbeat of the replaced static member = %v, want FENCED_INSTANCE_ID", e)
	}
	errs := h.c.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: rs[1].MemberID, InstanceID: ptr("b"), Generation: gen, Offsets: offsets(1)})
	if errs[0] != kerr.FencedInstanceID {
		t.Fatalf("commit of the replaced static member = %v, want FENCED_INSTANCE_ID", errs[0])
	}

	// The static leader rejoining gets the member list and SkipAssignment (KIP-814).
	req = joinReq("g", "")
	req.InstanceID = ptr("a")
	r = h.join(req).get()
	if r.Err != nil || !r.SkipAssignment || len(r.Members) != 2 || r.LeaderID != rs[0].MemberID {
		t.Fatalf("static leader rejoin = %+v, want SkipAssignment, 2 members and the old leader id", r)
	}
}

func TestStaticMemberIsKeptUntilItsSessionExpires(t *testing.T) {
	h := newHarness(t)
	var ws []*wait[JoinResponse]
	for _, id := range []string{"a", "b"} {
		req := joinReq("g", "")
		req.InstanceID = ptr(id)
		req.SessionTimeout = 2 * testRebalance
		ws = append(ws, h.join(req))
	}
	h.clk.Advance(formDelay)
	rs := []JoinResponse{ws[0].get(), ws[1].get()}
	h.syncAll("g", rs)
	// A dynamic member joins; static "b" does not rejoin within the rebalance timeout.
	_, w := h.joinNew(joinReq("g", ""))
	ra := h.join(JoinRequest{Group: "g", MemberID: rs[0].MemberID, InstanceID: ptr("a"), ClientID: "client",
		SessionTimeout: 2 * testRebalance, RebalanceTimeout: testRebalance, ProtocolType: "consumer",
		Protocols: []Protocol{{Name: "range", Metadata: consumerMeta("t")}}})
	h.clk.Advance(testRebalance)
	if r := ra.get(); len(r.Members) != 3 {
		t.Fatalf("leader sees %d members, want 3 (the static member that did not rejoin stays)", len(r.Members))
	}
	w.get()
}

func TestPendingMemberExpires(t *testing.T) {
	h := newHarness(t)
	first := h.join(joinReq("g", "")).get()
	h.clk.Advance(testSession)
	if r := h.join(joinReq("g", first.MemberID)).get(); r.Err != kerr.UnknownMemberID {
		t.Fatalf("JoinGroup with an expired pending member id = %+v, want UNKNOWN_MEMBER_ID", r)
	}
}

func TestOldJoinGroupOfTheSameMemberIsAnswered(t *testing.T) {
	h := newHarness(t)
	id, w1 := h.joinNew(joinReq("g", ""))
	w2 := h.join(joinReq("g", id))
	if r := w1.get(); r.Err != kerr.RebalanceInProgress {
		t.Fatalf("superseded JoinGroup = %+v, want REBALANCE_IN_PROGRESS", r)
	}
	h.clk.Advance(formDelay)
	if r := w2.get(); r.Err != nil || r.Generation != 1 {
		t.Fatalf("JoinGroup = %+v", r)
	}
}

func TestCloseAnswersWaitingRequests(t *testing.T) {
	h := newHarness(t)
	_, w := h.joinNew(joinReq("g", ""))
	h.c.Close()
	if r := w.get(); r.Err != kerr.NotCoordinator {
		t.Fatalf("JoinGroup waiting at Close = %+v, want NOT_COORDINATOR", r)
	}
	if r := h.join(joinReq("g", "")).get(); r.Err != kerr.CoordinatorNotAvailable {
		t.Fatalf("JoinGroup after Close = %+v, want COORDINATOR_NOT_AVAILABLE", r)
	}
	h.clk.Advance(time.Hour) // timers stopped: nothing runs
}

func TestMaxGroupSize(t *testing.T) {
	h := newHarness(t)
	h.c.cfg.MaxSize = 2
	h.stable("g", 2)
	if r := h.join(joinReq("g", "")).get(); r.Err != kerr.GroupMaxSizeReached {
		t.Fatalf("third JoinGroup = %+v, want GROUP_MAX_SIZE_REACHED", r)
	}
}

func ptr[T any](v T) *T { return &v }
