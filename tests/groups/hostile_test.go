package groups

// Hostile group requests found by the protocol fuzzer (issue 19): each test names what it
// guards against.

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

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
