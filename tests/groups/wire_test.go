package groups

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rebalanceWait bounds a JoinGroup that waits for the group's first rebalance (the
// initial delay, 3 s by default, possibly extended once).
const rebalanceWait = 20 * time.Second

// member is a group member driven by raw requests at chosen versions.
type member struct {
	w          *wire
	group      string
	id         string
	generation int32
	leader     string
	members    []kmsg.JoinGroupResponseMember
}

// join runs JoinGroup at version v (with the KIP-394 round trip from v4), optionally as a
// static member, and checks the answer.
func join(t *testing.T, w *wire, group string, v int16, instance *string) *member {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = v
	req.Group = group
	req.SessionTimeoutMillis = int32(sessionTimeout / time.Millisecond)
	req.RebalanceTimeoutMillis = 10000
	req.InstanceID = instance
	req.ProtocolType = "consumer"
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{"t"}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: md.AppendTo(nil)}}
	resp := w.do(req, rebalanceWait).(*kmsg.JoinGroupResponse)
	if v >= 4 && instance == nil {
		wantErr(t, fmt.Sprintf("first JoinGroup v%d", v), resp.ErrorCode, kerr.MemberIDRequired)
		if resp.MemberID == "" {
			t.Fatalf("JoinGroup v%d answered MEMBER_ID_REQUIRED without a member id", v)
		}
		req.MemberID = resp.MemberID
		resp = w.do(req, rebalanceWait).(*kmsg.JoinGroupResponse)
	}
	wantErr(t, fmt.Sprintf("JoinGroup v%d", v), resp.ErrorCode, nil)
	if resp.Generation < 1 || resp.MemberID == "" || resp.Protocol == nil || *resp.Protocol != "range" {
		t.Fatalf("JoinGroup v%d = %+v", v, resp)
	}
	if v >= 7 && (resp.ProtocolType == nil || *resp.ProtocolType != "consumer") {
		t.Fatalf("JoinGroup v%d answer has protocol type %v, want consumer", v, resp.ProtocolType)
	}
	return &member{w: w, group: group, id: resp.MemberID, generation: resp.Generation, leader: resp.LeaderID, members: resp.Members}
}

// sync runs SyncGroup at version v; the leader assigns each member its own id as bytes.
func (m *member) sync(t *testing.T, v int16) []byte {
	t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version, req.Group, req.MemberID, req.Generation = v, m.group, m.id, m.generation
	if v >= 5 {
		req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	}
	if m.id == m.leader {
		for _, o := range m.members {
			req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: o.MemberID, MemberAssignment: []byte(o.MemberID)})
		}
	}
	resp := m.w.do(req, rebalanceWait).(*kmsg.SyncGroupResponse)
	wantErr(t, fmt.Sprintf("SyncGroup v%d", v), resp.ErrorCode, nil)
	return resp.MemberAssignment
}

func (m *member) heartbeat(v int16, gen int32, id string, instance *string) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.Generation, req.InstanceID = v, m.group, id, gen, instance
	return m.w.do(req, 10*time.Second).(*kmsg.HeartbeatResponse).ErrorCode
}

func commitReq(v int16, group, topic string, p int32, offset int64, md string) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group = v, group
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.Metadata = p, offset, &md
	if v >= 6 {
		rp.LeaderEpoch = 0
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// commitCode returns the error code of a one-partition OffsetCommit.
func commitCode(t *testing.T, w *wire, req *kmsg.OffsetCommitRequest) int16 {
	t.Helper()
	resp := w.do(req, 10*time.Second).(*kmsg.OffsetCommitResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("OffsetCommit v%d answer has the wrong shape: %+v", req.Version, resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// fetchOffset fetches one partition's committed offset at version v.
func fetchOffset(t *testing.T, w *wire, v int16, group, topic string, p int32) kmsg.OffsetFetchResponseGroupTopicPartition {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = v
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: []int32{p}}}
		req.Groups = append(req.Groups, rg)
	} else {
		req.Group = group
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{p}}}
	}
	resp := w.do(req, 10*time.Second).(*kmsg.OffsetFetchResponse)
	if v >= 8 {
		if len(resp.Groups) != 1 {
			t.Fatalf("OffsetFetch v%d answer has %d groups", v, len(resp.Groups))
		}
		wantErr(t, fmt.Sprintf("OffsetFetch v%d", v), resp.Groups[0].ErrorCode, nil)
		return resp.Groups[0].Topics[0].Partitions[0]
	}
	if v >= 2 {
		wantErr(t, fmt.Sprintf("OffsetFetch v%d", v), resp.ErrorCode, nil)
	}
	tp := resp.Topics[0].Partitions[0]
	return kmsg.OffsetFetchResponseGroupTopicPartition{Partition: tp.Partition, Offset: tp.Offset, LeaderEpoch: tp.LeaderEpoch, Metadata: tp.Metadata, ErrorCode: tp.ErrorCode}
}

func describeGroup(t *testing.T, w *wire, v int16, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version, req.Groups, req.IncludeAuthorizedOperations = v, []string{group}, v >= 3
	resp := w.do(req, 10*time.Second).(*kmsg.DescribeGroupsResponse)
	if len(resp.Groups) != 1 {
		t.Fatalf("DescribeGroups v%d answer has %d groups", v, len(resp.Groups))
	}
	return resp.Groups[0]
}

// TestEveryVersionOfTheGroupAPIs runs a group's whole life at each version of each group
// API: find the coordinator, join, sync, heartbeat, commit, fetch, describe, list,
// leave, delete offsets, delete the group. Versions are stepped together: step i uses
// version min(i, max) of every API. Steps run in parallel, each with its own group.
func TestEveryVersionOfTheGroupAPIs(t *testing.T) {
	b := startBroker(t)
	topic := uniqueName("wire")
	createTopic(t, b.Addr, topic, 2)
	for step := int16(0); step <= 9; step++ {
		t.Run(fmt.Sprintf("step %d", step), func(t *testing.T) {
			t.Parallel()
			v := func(max int16) int16 { return min(step, max) }
			w := dialWire(t, b.Addr)
			group := uniqueName(fmt.Sprintf("wire-v%d", step))

			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.Version, fc.CoordinatorKey, fc.CoordinatorKeys = v(4), group, []string{group, "other"}
			fr := w.do(fc, 10*time.Second).(*kmsg.FindCoordinatorResponse)
			if fc.Version >= 4 {
				if len(fr.Coordinators) != 2 || fr.Coordinators[0].ErrorCode != 0 || fr.Coordinators[0].Key != group || fr.Coordinators[1].Key != "other" {
					t.Fatalf("FindCoordinator v%d = %+v", fc.Version, fr)
				}
			} else if fr.ErrorCode != 0 || fmt.Sprintf("%s:%d", fr.Host, fr.Port) != b.Addr {
				t.Fatalf("FindCoordinator v%d = %+v, want %s", fc.Version, fr, b.Addr)
			}

			m := join(t, w, group, v(9), nil)
			if m.leader != m.id || len(m.members) != 1 || m.members[0].MemberID != m.id {
				t.Fatalf("lone member is not the leader with itself as the only member: %+v", m)
			}
			if got := m.sync(t, v(5)); string(got) != m.id {
				t.Fatalf("SyncGroup v%d assignment = %q, want %q", v(5), got, m.id)
			}
			wantErr(t, "Heartbeat", m.heartbeat(v(4), m.generation, m.id, nil), nil)

			cv := v(9)
			commit := commitReq(cv, group, topic, 1, 42, "md")
			if cv == 0 {
				// v0 commits are simple commits: refused while the group has members.
				wantErr(t, "OffsetCommit v0 to a group with members", commitCode(t, w, commit), kerr.UnknownMemberID)
				commit = commitReq(1, group, topic, 1, 42, "md")
			}
			commit.Generation, commit.MemberID = m.generation, m.id
			wantErr(t, fmt.Sprintf("OffsetCommit v%d", commit.Version), commitCode(t, w, commit), nil)
			got := fetchOffset(t, w, v(9), group, topic, 1)
			wantEpoch := int32(-1)
			if commit.Version >= 6 && v(9) >= 5 {
				wantEpoch = 0
			}
			if got.Offset != 42 || got.Metadata == nil || *got.Metadata != "md" || got.ErrorCode != 0 || got.LeaderEpoch != wantEpoch {
				t.Fatalf("OffsetFetch v%d = %+v, want offset 42, metadata md, leader epoch %d", v(9), got, wantEpoch)
			}
			if none := fetchOffset(t, w, v(9), group, topic, 0); none.Offset != -1 || none.ErrorCode != 0 {
				t.Fatalf("OffsetFetch v%d of an uncommitted partition = %+v, want -1", v(9), none)
			}

			d := describeGroup(t, w, v(5), group)
			if d.ErrorCode != 0 || d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" || len(d.Members) != 1 ||
				string(d.Members[0].MemberAssignment) != m.id || !strings.HasPrefix(d.Members[0].ClientHost, "/") || d.Members[0].ClientID != "kafscale-groups" {
				t.Fatalf("DescribeGroups v%d = %+v", v(5), d)
			}

			lg := kmsg.NewPtrListGroupsRequest()
			lg.Version = v(5)
			if lg.Version >= 4 {
				lg.StatesFilter = []string{"stable"}
			}
			if lg.Version >= 5 {
				lg.TypesFilter = []string{"Classic"}
			}
			lr := w.do(lg, 10*time.Second).(*kmsg.ListGroupsResponse)
			found := false
			for _, g := range lr.Groups {
				if g.Group == group {
					found = g.ProtocolType == "consumer" && (lg.Version < 4 || g.GroupState == "Stable") && (lg.Version < 5 || g.GroupType == "classic")
				}
			}
			if lr.ErrorCode != 0 || !found {
				t.Fatalf("ListGroups v%d does not list %s as a stable classic consumer group: %+v", lg.Version, group, lr)
			}

			leave := kmsg.NewPtrLeaveGroupRequest()
			leave.Version, leave.Group = v(5), group
			if leave.Version < 3 {
				leave.MemberID = m.id
			} else {
				leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: m.id, Reason: kmsg.StringPtr("done")}}
			}
			lv := w.do(leave, 10*time.Second).(*kmsg.LeaveGroupResponse)
			wantErr(t, fmt.Sprintf("LeaveGroup v%d", leave.Version), lv.ErrorCode, nil)
			if leave.Version >= 3 && (len(lv.Members) != 1 || lv.Members[0].ErrorCode != 0 || lv.Members[0].MemberID != m.id) {
				t.Fatalf("LeaveGroup v%d = %+v", leave.Version, lv)
			}
			if d := describeGroup(t, w, v(5), group); d.State != "Empty" || len(d.Members) != 0 {
				t.Fatalf("group with offsets and no members = %+v, want Empty", d)
			}
			// A simple commit (no member, generation -1) is accepted once the group is empty.
			wantErr(t, fmt.Sprintf("simple OffsetCommit v%d to an empty group", cv), commitCode(t, w, commitReq(cv, group, topic, 0, 5, "")), nil)

			od := kmsg.NewPtrOffsetDeleteRequest()
			od.Group = group
			od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}}}
			odr := w.do(od, 10*time.Second).(*kmsg.OffsetDeleteResponse)
			if odr.ErrorCode != 0 || len(odr.Topics) != 1 || odr.Topics[0].Partitions[0].ErrorCode != 0 {
				t.Fatalf("OffsetDelete = %+v", odr)
			}
			if got := fetchOffset(t, w, v(9), group, topic, 1); got.Offset != -1 {
				t.Fatalf("offset after OffsetDelete = %+v, want -1", got)
			}

			del := kmsg.NewPtrDeleteGroupsRequest()
			del.Version, del.Groups = v(2), []string{group}
			dr := w.do(del, 10*time.Second).(*kmsg.DeleteGroupsResponse)
			wantErr(t, fmt.Sprintf("DeleteGroups v%d", del.Version), dr.Groups[0].ErrorCode, nil)
			if d := describeGroup(t, w, v(5), group); d.State != "Dead" {
				t.Fatalf("deleted group = %+v, want Dead", d)
			}
		})
	}
}

// TestBadInputGetsKafkaErrors sends what a buggy or hostile client might: empty and
// oversize group ids, bad session timeouts, forged member ids, stale generations,
// commits for unknown topics. Each gets its Kafka error code; the broker keeps serving
// and the group's state and offsets are untouched.
func TestBadInputGetsKafkaErrors(t *testing.T) {
	b := startBroker(t)
	topic := uniqueName("bad")
	createTopic(t, b.Addr, topic, 2)
	w := dialWire(t, b.Addr)
	long := strings.Repeat("g", 2000)

	for _, tc := range []struct {
		name  string
		group string
		mod   func(*kmsg.JoinGroupRequest)
		want  *kerr.Error
	}{
		{"empty group id", "", nil, kerr.InvalidGroupID},
		{"oversize group id", long, nil, kerr.InvalidGroupID},
		{"session timeout below the minimum", uniqueName("g"), func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 100 }, kerr.InvalidSessionTimeout},
		{"forged member id", uniqueName("g"), func(r *kmsg.JoinGroupRequest) { r.MemberID = "forged" }, kerr.UnknownMemberID},
		{"no protocols", uniqueName("g"), func(r *kmsg.JoinGroupRequest) { r.Protocols = nil }, kerr.InconsistentGroupProtocol},
	} {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = tc.group, 6000, 10000, "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		if tc.mod != nil {
			tc.mod(req)
		}
		resp := w.do(req, 10*time.Second).(*kmsg.JoinGroupResponse)
		wantErr(t, "JoinGroup with "+tc.name, resp.ErrorCode, tc.want)
	}

	group := uniqueName("g-bad")
	m := join(t, w, group, 9, nil)
	m.sync(t, 5)
	wantErr(t, "valid commit", commitCode(t, w, withMember(commitReq(9, group, topic, 0, 10, "ok"), m.id, m.generation)), nil)

	hb := []struct {
		name string
		gen  int32
		id   string
		inst *string
		want *kerr.Error
	}{
		{"stale generation", m.generation - 1, m.id, nil, kerr.IllegalGeneration},
		{"future generation", m.generation + 1, m.id, nil, kerr.IllegalGeneration},
		{"unknown member", m.generation, "forged", nil, kerr.UnknownMemberID},
		{"unknown static instance", m.generation, m.id, kmsg.StringPtr("nobody"), kerr.UnknownMemberID},
	}
	for _, tc := range hb {
		wantErr(t, "Heartbeat with "+tc.name, m.heartbeat(4, tc.gen, tc.id, tc.inst), tc.want)
	}
	for _, tc := range []struct {
		name string
		req  *kmsg.OffsetCommitRequest
		want *kerr.Error
	}{
		{"unknown topic", withMember(commitReq(9, group, "no-such-topic", 0, 99, ""), m.id, m.generation), kerr.UnknownTopicOrPartition},
		{"unknown partition", withMember(commitReq(9, group, topic, 99, 99, ""), m.id, m.generation), kerr.UnknownTopicOrPartition},
		{"negative partition", withMember(commitReq(9, group, topic, -1, 99, ""), m.id, m.generation), kerr.UnknownTopicOrPartition},
		{"stale generation", withMember(commitReq(9, group, topic, 0, 99, ""), m.id, m.generation-1), kerr.IllegalGeneration},
		{"unknown member", withMember(commitReq(9, group, topic, 0, 99, ""), "forged", m.generation), kerr.UnknownMemberID},
		{"simple commit to a group with members", commitReq(9, group, topic, 0, 99, ""), kerr.UnknownMemberID},
		{"oversize metadata", withMember(commitReq(9, group, topic, 0, 99, strings.Repeat("x", 5000)), m.id, m.generation), kerr.OffsetMetadataTooLarge},
		{"empty group id", commitReq(9, "", topic, 0, 99, ""), kerr.InvalidGroupID},
		{"oversize group id", commitReq(9, long, topic, 0, 99, ""), kerr.InvalidGroupID},
		{"a generation of a group this broker never formed", withMember(commitReq(9, uniqueName("g"), topic, 0, 99, ""), "m", 7), kerr.IllegalGeneration},
	} {
		wantErr(t, "OffsetCommit with "+tc.name, commitCode(t, w, tc.req), tc.want)
	}
	sreq := kmsg.NewPtrSyncGroupRequest()
	sreq.Group, sreq.MemberID, sreq.Generation = group, m.id, m.generation+1
	wantErr(t, "SyncGroup with a future generation", w.do(sreq, 10*time.Second).(*kmsg.SyncGroupResponse).ErrorCode, kerr.IllegalGeneration)
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{group, uniqueName("never"), ""}
	dr := w.do(del, 10*time.Second).(*kmsg.DeleteGroupsResponse)
	wantErr(t, "DeleteGroups of a group with members", dr.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantErr(t, "DeleteGroups of a group that does not exist", dr.Groups[1].ErrorCode, kerr.GroupIDNotFound)
	wantErr(t, "DeleteGroups of an empty group id", dr.Groups[2].ErrorCode, kerr.InvalidGroupID)
	ofr := kmsg.NewPtrOffsetFetchRequest()
	ofr.Version, ofr.Group = 7, ""
	wantErr(t, "OffsetFetch of an empty group id", w.do(ofr, 10*time.Second).(*kmsg.OffsetFetchResponse).ErrorCode, kerr.InvalidGroupID)

	// Nothing above disturbed the group.
	wantErr(t, "Heartbeat after the bad input", m.heartbeat(4, m.generation, m.id, nil), nil)
	if got := fetchOffset(t, w, 9, group, topic, 0); got.Offset != 10 || *got.Metadata != "ok" {
		t.Fatalf("committed offset after the bad input = %+v, want 10", got)
	}
	if d := describeGroup(t, w, 5, group); d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("group after the bad input = %+v", d)
	}
}

func withMember(req *kmsg.OffsetCommitRequest, id string, gen int32) *kmsg.OffsetCommitRequest {
	req.MemberID, req.Generation = id, gen
	return req
}

// TestStaticMemberReplacementFencesTheOldOne: a process restarting with the same
// group.instance.id takes the member's place without a rebalance, keeps its assignment,
// and the old incarnation gets FENCED_INSTANCE_ID.
func TestStaticMemberReplacementFencesTheOldOne(t *testing.T) {
	b := startBroker(t)
	group := uniqueName("g-static")
	inst := kmsg.StringPtr("instance-1")
	old := join(t, dialWire(t, b.Addr), group, 9, inst)
	old.sync(t, 5)
	w := dialWire(t, b.Addr)
	repl := join(t, w, group, 9, inst)
	if repl.id == old.id || repl.generation != old.generation {
		t.Fatalf("replacement = %+v, want a new member id at generation %d", repl, old.generation)
	}
	if got := repl.sync(t, 5); string(got) != old.id {
		t.Fatalf("replacement's assignment = %q, want the old member's %q", got, old.id)
	}
	wantErr(t, "Heartbeat of the replaced member", old.heartbeat(4, old.generation, old.id, inst), kerr.FencedInstanceID)
	wantErr(t, "Heartbeat of the replacement", repl.heartbeat(4, repl.generation, repl.id, inst), nil)
	if d := describeGroup(t, w, 5, group); d.State != "Stable" || len(d.Members) != 1 || d.Members[0].InstanceID == nil || *d.Members[0].InstanceID != *inst {
		t.Fatalf("group = %+v, want Stable with the one static member", d)
	}
}

// TestRecreatedTopicDoesNotInheritOffsets: offsets are stored by topic id, so a topic
// deleted and created again under the same name starts without committed offsets.
func TestRecreatedTopicDoesNotInheritOffsets(t *testing.T) {
	b := startBroker(t)
	topic, group := uniqueName("recreated"), uniqueName("g-recreated")
	createTopic(t, b.Addr, topic, 1)
	w := dialWire(t, b.Addr)
	wantErr(t, "simple commit", commitCode(t, w, commitReq(9, group, topic, 0, 5, "")), nil)
	if got := fetchOffset(t, w, 9, group, topic, 0); got.Offset != 5 {
		t.Fatalf("committed offset = %+v, want 5", got)
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version, dt.TimeoutMillis, dt.TopicNames = 5, 30000, []string{topic}
	dresp := w.do(dt, 30*time.Second).(*kmsg.DeleteTopicsResponse)
	wantErr(t, "DeleteTopics", dresp.Topics[0].ErrorCode, nil)
	if got := fetchOffset(t, w, 9, group, topic, 0); got.Offset != -1 {
		t.Fatalf("offset of a deleted topic = %+v, want -1", got)
	}
	createTopic(t, b.Addr, topic, 1)
	if got := fetchOffset(t, w, 9, group, topic, 0); got.Offset != -1 {
		t.Fatalf("offset of the recreated topic = %+v, want -1 (no inherited offset)", got)
	}
	// A whole-group fetch lists nothing either.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 9
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group, Topics: nil}}
	resp := w.do(req, 10*time.Second).(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) != 1 || len(resp.Groups[0].Topics) != 0 {
		t.Fatalf("whole-group OffsetFetch = %+v, want no topics", resp.Groups)
	}
}
