package group

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
)

var topicA = [16]byte{0xa}

// offsets returns n offsets of topic A, partition i at offset 100+i.
func offsets(n int) []meta.GroupOffset {
	out := make([]meta.GroupOffset, n)
	for i := range out {
		out[i] = meta.GroupOffset{Partition: meta.PartitionKey{TopicID: topicA, Partition: int32(i)}, Offset: int64(100 + i), LeaderEpoch: -1}
	}
	return out
}

func TestSimpleCommitsNeedNoMembership(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "flink", Generation: -1, Offsets: offsets(3)})
	for _, e := range errs {
		if e != nil {
			t.Fatalf("simple commit = %v", errs)
		}
	}
	got, e := h.c.FetchOffsets(ctx, "flink", nil, -1)
	if e != nil || len(got) != 3 || got[2].Offset != 102 {
		t.Fatalf("FetchOffsets = %+v, %v", got, e)
	}
	if d := h.c.DescribeGroup(ctx, "flink"); d.State != "Empty" || d.Err != nil {
		t.Fatalf("DescribeGroup of a group with only offsets = %+v, want Empty", d)
	}
	// A generation this coordinator never formed (a restart) must rejoin.
	if errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "flink", MemberID: "m", Generation: 4, Offsets: offsets(1)}); errs[0] != kerr.IllegalGeneration {
		t.Fatalf("commit with an unknown generation = %v, want ILLEGAL_GENERATION", errs[0])
	}
}

func TestCommitRules(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rs := h.stable("g", 2)
	m, gen := rs[0].MemberID, rs[0].Generation
	big := offsets(2)
	big[1].Metadata = string(make([]byte, DefaultOffsetMetadataMaxBytes+1))
	for _, tc := range []struct {
		name string
		req  CommitRequest
		want []*kerr.Error
	}{
		{"member at the current generation", CommitRequest{Group: "g", MemberID: m, Generation: gen, Offsets: offsets(2)}, []*kerr.Error{nil, nil}},
		{"simple commit to a group with members", CommitRequest{Group: "g", Generation: -1, Offsets: offsets(1)}, []*kerr.Error{kerr.UnknownMemberID}},
		{"oversize metadata fails only its partition", CommitRequest{Group: "g", MemberID: m, Generation: gen, Offsets: big}, []*kerr.Error{nil, kerr.OffsetMetadataTooLarge}},
		{"unknown static instance", CommitRequest{Group: "g", MemberID: m, InstanceID: ptr("x"), Generation: gen, Offsets: offsets(1)}, []*kerr.Error{kerr.UnknownMemberID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := h.c.CommitOffsets(ctx, tc.req)
			for i := range tc.want {
				if errs[i] != tc.want[i] {
					t.Fatalf("errors = %v, want %v", errs, tc.want)
				}
			}
		})
	}
	// While the group waits for the leader's assignment, commits get REBALANCE_IN_PROGRESS.
	lw := h.join(joinReq("g", m)) // the leader rejoining starts a rebalance
	h.join(joinReq("g", rs[1].MemberID))
	r := lw.get()
	if errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "g", MemberID: m, Generation: r.Generation, Offsets: offsets(1)}); errs[0] != kerr.RebalanceInProgress {
		t.Fatalf("commit in CompletingRebalance = %v, want REBALANCE_IN_PROGRESS", errs[0])
	}
	// A commit of the previous generation during the rebalance is fenced.
	if errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "g", MemberID: m, Generation: gen, Offsets: offsets(1)}); errs[0] != kerr.IllegalGeneration {
		t.Fatalf("stale commit = %v, want ILLEGAL_GENERATION", errs[0])
	}
}

func TestCommitDuringPreparingRebalanceIsAccepted(t *testing.T) {
	h := newHarness(t)
	rs := h.stable("g", 2)
	h.join(joinReq("g", rs[0].MemberID)) // starts a rebalance
	// The other member has not heard yet; committing what it processed is allowed.
	errs := h.c.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: rs[1].MemberID, Generation: rs[1].Generation, Offsets: offsets(1)})
	if errs[0] != nil {
		t.Fatalf("commit during PreparingRebalance = %v", errs[0])
	}
}

func TestStoreFailureIsCoordinatorNotAvailable(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.store.fail = errStoreDown
	errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "g", Generation: -1, Offsets: offsets(2)})
	if errs[0] != kerr.CoordinatorNotAvailable || errs[1] != kerr.CoordinatorNotAvailable {
		t.Fatalf("commit with the store down = %v", errs)
	}
	if _, e := h.c.FetchOffsets(ctx, "g", nil, -1); e != kerr.CoordinatorNotAvailable {
		t.Fatalf("fetch with the store down = %v", e)
	}
	if _, e := h.c.ListGroups(ctx); e != kerr.CoordinatorNotAvailable {
		t.Fatalf("list with the store down = %v", e)
	}
}

func TestDeleteGroup(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rs := h.stable("live", 1)
	h.c.CommitOffsets(ctx, CommitRequest{Group: "old", Generation: -1, Offsets: offsets(2)})
	for _, tc := range []struct {
		group string
		want  *kerr.Error
	}{
		{"live", kerr.NonEmptyGroup},
		{"old", nil},
		{"old", kerr.GroupIDNotFound},
		{"never", kerr.GroupIDNotFound},
	} {
		if e := h.c.DeleteGroup(ctx, tc.group); e != tc.want {
			t.Fatalf("DeleteGroup(%s) = %v, want %v", tc.group, e, tc.want)
		}
	}
	if got, _ := h.c.FetchOffsets(ctx, "old", nil, -1); len(got) != 0 {
		t.Fatalf("offsets after DeleteGroups: %+v", got)
	}
	if e := h.heartbeat("live", rs[0].MemberID, rs[0].Generation); e != nil {
		t.Fatalf("refused delete disturbed the live group: %v", e)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	topicB := [16]byte{0xb}
	// Members subscribe to topic "t" (joinReq's metadata).
	rs := h.stable("g", 1)
	offs := append(offsets(1), meta.GroupOffset{Partition: meta.PartitionKey{TopicID: topicB}, Offset: 5})
	h.c.CommitOffsets(ctx, CommitRequest{Group: "g", MemberID: rs[0].MemberID, Generation: rs[0].Generation, Offsets: offs})
	top, errs := h.c.DeleteOffsets(ctx, "g", []TopicPartition{{Topic: "t", TopicID: topicA}, {Topic: "other", TopicID: topicB}})
	if top != nil || errs[0] != kerr.GroupSubscribedToTopic || errs[1] != nil {
		t.Fatalf("OffsetDelete = %v, %v; want GROUP_SUBSCRIBED_TO_TOPIC for t only", top, errs)
	}
	got, _ := h.c.FetchOffsets(ctx, "g", nil, -1)
	if len(got) != 1 || got[0].Partition.TopicID != topicA {
		t.Fatalf("offsets after OffsetDelete: %+v", got)
	}
	if top, _ := h.c.DeleteOffsets(ctx, "missing", []TopicPartition{{Topic: "t", TopicID: topicA}}); top != kerr.GroupIDNotFound {
		t.Fatalf("OffsetDelete of a missing group = %v, want GROUP_ID_NOT_FOUND", top)
	}

	req := joinReq("connect", "")
	req.ProtocolType = "connect"
	_, w := h.joinNew(req)
	h.clk.Advance(formDelay)
	w.get()
	if top, _ := h.c.DeleteOffsets(ctx, "connect", []TopicPartition{{Topic: "t", TopicID: topicA}}); top != kerr.NonEmptyGroup {
		t.Fatalf("OffsetDelete of a non-consumer group with members = %v, want NON_EMPTY_GROUP", top)
	}
}

func TestListAndDescribeGroups(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rs := h.stable("live", 2)
	h.c.CommitOffsets(ctx, CommitRequest{Group: "old", Generation: -1, Offsets: offsets(1)})
	h.c.CommitOffsets(ctx, CommitRequest{Group: "live", MemberID: rs[0].MemberID, Generation: rs[0].Generation, Offsets: offsets(1)})
	gs, e := h.c.ListGroups(ctx)
	if e != nil || len(gs) != 2 {
		t.Fatalf("ListGroups = %+v, %v", gs, e)
	}
	if gs[0] != (GroupListing{Group: "live", ProtocolType: "consumer", State: "Stable", Type: "classic"}) ||
		gs[1] != (GroupListing{Group: "old", State: "Empty", Type: "classic"}) {
		t.Fatalf("ListGroups = %+v", gs)
	}
	d := h.c.DescribeGroup(ctx, "live")
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 2 {
		t.Fatalf("DescribeGroup = %+v", d)
	}
	for _, m := range d.Members {
		if string(m.Assignment) != "a-"+m.MemberID || len(m.Metadata) == 0 || m.ClientHost != "/127.0.0.1" || m.ClientID != "client" {
			t.Fatalf("member = %+v", m)
		}
	}
	if d := h.c.DescribeGroup(ctx, "never"); d.State != "Dead" || d.Err != nil {
		t.Fatalf("DescribeGroup of a missing group = %+v, want Dead", d)
	}
	// During a rebalance members are listed without metadata or assignment.
	h.join(joinReq("live", rs[0].MemberID))
	d = h.c.DescribeGroup(ctx, "live")
	if d.State != "PreparingRebalance" || d.Protocol != "" || len(d.Members) != 2 || d.Members[0].Assignment != nil {
		t.Fatalf("DescribeGroup during a rebalance = %+v", d)
	}
}

// TestCommitsToAnEmptiedGroup: once its members left, a group takes commits without a
// generation, whatever member id they name, and refuses those with one
// (UNKNOWN_MEMBER_ID), as Kafka's Empty group does.
func TestCommitsToAnEmptiedGroup(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rs := h.stable("g", 1)
	h.c.Leave("g", []LeaveMember{{MemberID: rs[0].MemberID}})
	if errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "g", MemberID: rs[0].MemberID, Generation: -1, Offsets: offsets(1)}); errs[0] != nil {
		t.Fatalf("commit without generation = %v, want it taken", errs[0])
	}
	if errs := h.c.CommitOffsets(ctx, CommitRequest{Group: "g", MemberID: rs[0].MemberID, Generation: rs[0].Generation, Offsets: offsets(1)}); errs[0] != kerr.UnknownMemberID {
		t.Fatalf("commit of the member that left = %v, want UNKNOWN_MEMBER_ID", errs[0])
	}
}

// TestOffsetDeleteOfAnEmptiedGroup: the offsets of a group whose members left may be
// deleted, topics its members subscribed to included; a group that never committed
// answers every partition without error, as Kafka's Empty group does.
func TestOffsetDeleteOfAnEmptiedGroup(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, commit := range []bool{true, false} {
		name := fmt.Sprintf("committed-%v", commit)
		rs := h.stable(name, 1)
		if commit {
			h.c.CommitOffsets(ctx, CommitRequest{Group: name, MemberID: rs[0].MemberID, Generation: rs[0].Generation, Offsets: offsets(1)})
		}
		h.c.Leave(name, []LeaveMember{{MemberID: rs[0].MemberID}})
		top, errs := h.c.DeleteOffsets(ctx, name, []TopicPartition{{Topic: "t", TopicID: topicA}})
		if top != nil || errs[0] != nil {
			t.Fatalf("%s: OffsetDelete = %v, %v; want no error", name, top, errs)
		}
		if got, _ := h.c.FetchOffsets(ctx, name, nil, -1); len(got) != 0 {
			t.Fatalf("%s: offsets after OffsetDelete: %+v", name, got)
		}
	}
}
