package groups

// Hostile group requests found by the protocol fuzzer (issue 19): each test names what it
// guards against.

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// longString is longer than any string a non-flexible version can carry (32,767 bytes).
var longString = strings.Repeat("x", 40000)

// joinV6 runs a JoinGroup v6 (flexible: its strings may be longer than 32,767 bytes)
// with the given protocol type, protocol names and instance id, through the KIP-394
// round trip if the broker asks for it, and returns the last answer.
func joinV6(t *testing.T, w *wire, group, protocolType string, names []string, instance *string) *kmsg.JoinGroupResponse {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.InstanceID = 6, group, instance
	req.SessionTimeoutMillis = int32(sessionTimeout / time.Millisecond)
	req.RebalanceTimeoutMillis = 10000
	req.ProtocolType = protocolType
	for _, n := range names {
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: []byte{0}})
	}
	resp := w.do(req, rebalanceWait).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		req.MemberID = resp.MemberID
		resp = w.do(req, rebalanceWait).(*kmsg.JoinGroupResponse)
	}
	return resp
}

// listGroupsDecodes fails t unless ListGroups v0-v2 answers decode, and returns the
// protocol type each lists for group ("" and false if it is not listed).
func listGroupsDecodes(t *testing.T, w *wire, group string) (string, bool) {
	t.Helper()
	var protocolType string
	var listed bool
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version = v
		resp, err := w.try(req, 10*time.Second)
		if err != nil {
			t.Fatalf("ListGroups v%d: %v", v, err)
		}
		for _, g := range resp.(*kmsg.ListGroupsResponse).Groups {
			if g.Group == group {
				protocolType, listed = g.ProtocolType, true
			}
		}
	}
	return protocolType, listed
}

// TestJoinGroupStringsOldVersionsCannotCarry guards against strings that wrap: a member
// joining with JoinGroup v6 (flexible) could give a 40,000-byte protocol type, protocol
// name or group.instance.id, which the group then echoed in versions whose strings have
// a 16-bit length (ListGroups v0-v2, DescribeGroups v0-v4, JoinGroup v0-v5). The length
// wrapped and every such answer became undecodable, for every client, until the group
// was gone. Such a member is now refused; 32,767 bytes, the most those versions carry,
// is accepted and echoed whole.
func TestJoinGroupStringsOldVersionsCannotCarry(t *testing.T) {
	b := startBroker(t)

	t.Run("40,000-byte protocol type: INCONSISTENT_GROUP_PROTOCOL, ListGroups v0-v2 decode", func(t *testing.T) {
		w := dialWire(t, b.Addr)
		group := uniqueName("long-type")
		resp := joinV6(t, w, group, longString, []string{"range"}, nil)
		wantErr(t, "JoinGroup v6 with a 40,000-byte protocol type", resp.ErrorCode, kerr.InconsistentGroupProtocol)
		if _, listed := listGroupsDecodes(t, w, group); listed {
			t.Errorf("the refused member's group %s is listed", group)
		}
	})

	t.Run("32,767-byte protocol type is kept whole", func(t *testing.T) {
		w := dialWire(t, b.Addr)
		group := uniqueName("max-type")
		longest := longString[:32767]
		resp := joinV6(t, w, group, longest, []string{"range"}, nil)
		wantErr(t, "JoinGroup v6 with a 32,767-byte protocol type", resp.ErrorCode, nil)
		if got, listed := listGroupsDecodes(t, w, group); !listed || got != longest {
			t.Errorf("ListGroups lists %s: %v, with a %d-byte protocol type; want 32,767", group, listed, len(got))
		}
	})

	t.Run("40,000-byte protocol name: INCONSISTENT_GROUP_PROTOCOL, DescribeGroups v0 decodes", func(t *testing.T) {
		w := dialWire(t, b.Addr)
		group := uniqueName("long-name")
		resp := joinV6(t, w, group, "consumer", []string{longString}, nil)
		wantErr(t, "JoinGroup v6 with a 40,000-byte protocol name", resp.ErrorCode, kerr.InconsistentGroupProtocol)
		if resp.ErrorCode == 0 {
			// Unfixed, the member joined: sync it, so the group is Stable and
			// DescribeGroups shows its protocol.
			req := kmsg.NewPtrSyncGroupRequest()
			req.Version, req.Group, req.MemberID, req.Generation = 5, group, resp.MemberID, resp.Generation
			req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr(longString)
			w.do(req, rebalanceWait)
		}
		for v := int16(0); v <= 4; v++ {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Version, req.Groups = v, []string{group}
			if _, err := w.try(req, 10*time.Second); err != nil {
				t.Fatalf("DescribeGroups v%d: %v", v, err)
			}
		}
	})

	t.Run("40,000-byte group.instance.id: INVALID_REQUEST, DescribeGroups v4 decodes", func(t *testing.T) {
		w := dialWire(t, b.Addr)
		group := uniqueName("long-instance")
		resp := joinV6(t, w, group, "consumer", []string{"range"}, &longString)
		wantErr(t, "JoinGroup v6 with a 40,000-byte group.instance.id", resp.ErrorCode, kerr.InvalidRequest)
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version, req.Groups = 4, []string{group}
		if _, err := w.try(req, 10*time.Second); err != nil {
			t.Fatalf("DescribeGroups v4: %v", err)
		}
	})
}

// TestMemberIDOfALongClientIDFitsOldVersions guards against member ids that wrap: a
// member id is the client id, a dash and a UUID, and a client id may be 32,767 bytes
// long, so the member id (32,804 bytes) broke DescribeGroups v0-v4 and the leader's
// JoinGroup v0-v5 answers. The client id part is now cut so the id fits.
func TestMemberIDOfALongClientIDFitsOldVersions(t *testing.T) {
	b := startBroker(t)
	w := dialWire(t, b.Addr)
	w.clientID = strings.Repeat("c", 32767)
	group := uniqueName("long-client")
	resp := joinV6(t, w, group, "consumer", []string{"range"}, nil)
	wantErr(t, "JoinGroup v6 from a 32,767-byte client id", resp.ErrorCode, nil)
	if len(resp.MemberID) > 32767 || !strings.HasPrefix(resp.MemberID, "ccc") {
		t.Errorf("member id has %d bytes (%.10q...), want at most 32,767 starting with the client id", len(resp.MemberID), resp.MemberID)
	}
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version, req.Groups = v, []string{group}
		r, err := w.try(req, 10*time.Second)
		if err != nil {
			t.Fatalf("DescribeGroups v%d: %v", v, err)
		}
		if g := r.(*kmsg.DescribeGroupsResponse).Groups; len(g) != 1 || len(g[0].Members) != 1 || g[0].Members[0].MemberID != resp.MemberID {
			t.Errorf("DescribeGroups v%d does not describe the member: %+v", v, g)
		}
	}
}

// TestJoinGroupProtocolNamesAsKafkaChecksThem guards against a generation formed with
// the empty protocol name logging "BUG: no protocol common to all members" (the frame is
// the fuzzer's). Kafka's classic coordinator (ClassicGroup.supportsProtocols) refuses
// with INCONSISTENT_GROUP_PROTOCOL only a first member with an empty protocol type or
// no protocol; a protocol named "" is a protocol like any other, and Kafka forms the
// generation with it. So does KafScale, without the BUG line.
func TestJoinGroupProtocolNamesAsKafkaChecksThem(t *testing.T) {
	b := startBroker(t)

	t.Run("one protocol named empty forms a generation with it", func(t *testing.T) {
		w := dialWire(t, b.Addr)
		// JoinGroup v3, correlation id 7, client "probe", group "g1", session 10 s,
		// rebalance 5 s, no member id, type "consumer", one protocol: "" with no metadata.
		frame, err := hex.DecodeString("00000031000b000300000007000570726f626500026731000027100000138800000008636f6e73756d657200000001000000000000")
		if err != nil {
			t.Fatal(err)
		}
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = 3
		if err := w.roundTrip(frame, 7, resp, rebalanceWait); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "JoinGroup v3 with one protocol named \"\"", resp.ErrorCode, nil)
		if resp.Generation != 1 || resp.Protocol == nil || *resp.Protocol != "" || resp.LeaderID != resp.MemberID || len(resp.Members) != 1 {
			t.Fatalf("JoinGroup v3 = %+v, want generation 1, protocol \"\", the member as leader", resp)
		}
		// The coordinator logs the generation after choosing its protocol: once that
		// line is there, a BUG line from the choice would be too.
		waitFor(t, 10*time.Second, "the generation of g1 in the broker's log", func() bool {
			for line := range strings.Lines(b.LogTail(64 << 20)) {
				if strings.Contains(line, `msg="group generation formed"`) && strings.Contains(line, " group=g1 ") {
					return true
				}
			}
			return false
		})
		for line := range strings.Lines(b.LogTail(64 << 20)) {
			if strings.Contains(line, "BUG:") {
				t.Errorf("broker logged an internal error: %s", strings.TrimSpace(line))
			}
		}
	})

	for _, tc := range []struct {
		name, protocolType string
		protocols          []string
	}{
		{"empty protocol type", "", []string{"range"}},
		{"no protocol", "consumer", nil},
	} {
		t.Run(tc.name+" from the first member: INCONSISTENT_GROUP_PROTOCOL", func(t *testing.T) {
			w := dialWire(t, b.Addr)
			resp := joinV6(t, w, uniqueName("inconsistent"), tc.protocolType, tc.protocols, nil)
			wantErr(t, fmt.Sprintf("JoinGroup v6 with %s", tc.name), resp.ErrorCode, kerr.InconsistentGroupProtocol)
		})
	}
}

// TestOffsetCommitNamingAPartitionTwice guards against a commit naming one partition
// twice being refused whole: etcd refused the transaction ("duplicate key given in txn
// request") and every partition got COORDINATOR_NOT_AVAILABLE. Kafka answers each
// partition as named and keeps the last offset (its commit appends a record per
// partition named); so does KafScale, at every version. OffsetDelete naming a partition
// twice deletes it.
func TestOffsetCommitNamingAPartitionTwice(t *testing.T) {
	b := startBroker(t)
	topic := uniqueName("dup-commit")
	createTopic(t, b.Addr, topic, 2)
	w := dialWire(t, b.Addr)
	for _, v := range []int16{0, 1, 2, 5, 7, 8, 9} {
		t.Run(fmt.Sprintf("OffsetCommit v%d", v), func(t *testing.T) {
			group := uniqueName(fmt.Sprintf("dup-commit-v%d", v))
			req := commitReq(v, group, topic, 0, 10, "first")
			second := kmsg.NewOffsetCommitRequestTopicPartition()
			second.Partition, second.Offset, second.Metadata = 0, 20, kmsg.StringPtr("second")
			other := kmsg.NewOffsetCommitRequestTopicPartition()
			other.Partition, other.Offset = 1, 5
			req.Topics[0].Partitions = append(req.Topics[0].Partitions, second, other)
			// The same topic again, naming partition 0 a third time: the last wins.
			again := kmsg.NewOffsetCommitRequestTopic()
			again.Topic = topic
			third := kmsg.NewOffsetCommitRequestTopicPartition()
			third.Partition, third.Offset, third.Metadata = 0, 30, kmsg.StringPtr("third")
			again.Partitions = append(again.Partitions, third)
			req.Topics = append(req.Topics, again)
			resp := w.do(req, 10*time.Second).(*kmsg.OffsetCommitResponse)
			want := [][]int32{{0, 0, 1}, {0}}
			if len(resp.Topics) != len(want) {
				t.Fatalf("OffsetCommit v%d answers %d topics, want %d", v, len(resp.Topics), len(want))
			}
			for i, rt := range resp.Topics {
				if len(rt.Partitions) != len(want[i]) {
					t.Fatalf("OffsetCommit v%d answers %d partitions in topic entry %d, want %d", v, len(rt.Partitions), i, len(want[i]))
				}
				for j, rp := range rt.Partitions {
					if rp.Partition != want[i][j] {
						t.Errorf("OffsetCommit v%d answer %d.%d is partition %d, want %d", v, i, j, rp.Partition, want[i][j])
					}
					wantErr(t, fmt.Sprintf("OffsetCommit v%d partition %d (entry %d.%d)", v, rp.Partition, i, j), rp.ErrorCode, nil)
				}
			}
			if got := fetchOffset(t, w, 5, group, topic, 0); got.Offset != 30 || got.Metadata == nil || *got.Metadata != "third" {
				t.Errorf("partition 0 committed %d %v, want the last named: 30 third", got.Offset, got.Metadata)
			}
			if got := fetchOffset(t, w, 5, group, topic, 1); got.Offset != 5 {
				t.Errorf("partition 1 committed %d, want 5", got.Offset)
			}
		})
	}

	t.Run("OffsetDelete", func(t *testing.T) {
		group := uniqueName("dup-delete")
		wantErr(t, "OffsetCommit", commitCode(t, w, commitReq(2, group, topic, 0, 10, "")), nil)
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = group
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}, {Partition: 0}}
		req.Topics = append(req.Topics, rt)
		resp := w.do(req, 10*time.Second).(*kmsg.OffsetDeleteResponse)
		wantErr(t, "OffsetDelete", resp.ErrorCode, nil)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("OffsetDelete answer has the wrong shape: %+v", resp)
		}
		for _, rp := range resp.Topics[0].Partitions {
			wantErr(t, "OffsetDelete partition 0", rp.ErrorCode, nil)
		}
		if got := fetchOffset(t, w, 5, group, topic, 0); got.Offset != -1 {
			t.Errorf("partition 0 still has offset %d after OffsetDelete", got.Offset)
		}
	})
}
