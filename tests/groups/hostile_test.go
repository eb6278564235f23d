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
