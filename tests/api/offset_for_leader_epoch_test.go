package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetForLeaderEpoch checks OffsetForLeaderEpoch (KIP-320) at every version served,
// 2-4, on one broker: the current epoch ends at the high watermark, the undefined epoch and
// an epoch above the current one get -1 and -1, CurrentLeaderEpoch is checked, unknown
// topics and partitions get UNKNOWN_TOPIC_OR_PARTITION; after a restart, which is a new
// leader epoch, the epoch before it ends where the new one began.
func TestOffsetForLeaderEpoch(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	name := topicName(t)
	createTopic(t, c, name, 1, nil)
	e0 := leaderEpoch(t, c, name, 0)
	checkEpochEnds(t, c, name, 0, []epochEndCase{{"empty partition", -1, e0, nil, e0, 0}})
	produceOK(t, c, name, 0, batchOf(5, 10))
	checkEpochEnds(t, c, name, 0, []epochEndCase{
		{"current epoch", -1, e0, nil, e0, 5},
		{"current epoch with CurrentLeaderEpoch", e0, e0, nil, e0, 5},
		{"undefined epoch", e0, -1, nil, -1, -1},
		{"epoch above the current", -1, e0 + 1, nil, -1, -1},
		{"CurrentLeaderEpoch above the current", e0 + 1, e0, kerr.UnknownLeaderEpoch, -1, -1},
	})
	checkEpochEnds(t, c, name, 1, []epochEndCase{{"partition out of range", -1, e0, kerr.UnknownTopicOrPartition, -1, -1}})
	checkEpochEnds(t, c, topicName(t), 0, []epochEndCase{{"unknown topic", -1, e0, kerr.UnknownTopicOrPartition, -1, -1}})

	b.Term(30 * time.Second)
	b.Restart()
	c = dial(ctx, t, b.Addr)
	e1 := leaderEpoch(t, c, name, 0)
	if e1 <= e0 {
		t.Fatalf("leader epoch after restart %d, before %d; want higher", e1, e0)
	}
	if base := produceOK(t, c, name, 0, batchOf(3, 10)); base != 5 {
		t.Fatalf("first produce after restart got base offset %d, want 5", base)
	}
	checkEpochEnds(t, c, name, 0, []epochEndCase{
		{"epoch before the restart ends where the new one began", e1, e0, nil, e0, 5},
		{"epoch after the restart", e1, e1, nil, e1, 8},
		{"an epoch between them is answered as the one below", -1, e1 - 1, nil, e0, 5},
		{"CurrentLeaderEpoch from before the restart", e0, e0, kerr.FencedLeaderEpoch, -1, -1},
	})
}

// epochEndCase is one OffsetForLeaderEpoch question and its answer.
type epochEndCase struct {
	name           string
	current, epoch int32
	wantErr        *kerr.Error
	wantEpoch      int32
	wantEnd        int64
}

// checkEpochEnds asks each case at versions 2-4 for topic/partition.
func checkEpochEnds(t *testing.T, c *conn, topic string, partition int32, cases []epochEndCase) {
	t.Helper()
	for v := int16(2); v <= 4; v++ {
		for _, tc := range cases {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.Version, req.ReplicaID = v, -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, tc.current, tc.epoch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := c.do(req).(*kmsg.OffsetForLeaderEpochResponse)
			if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("%s: OffsetForLeaderEpoch v%d of one partition answers %+v", tc.name, v, resp.Topics)
			}
			p := resp.Topics[0].Partitions[0]
			what := fmt.Sprintf("%s: OffsetForLeaderEpoch v%d of %s/%d at epoch %d (current %d)", tc.name, v, topic, partition, tc.epoch, tc.current)
			wantCode(t, what, p.ErrorCode, tc.wantErr)
			if p.Partition != partition || p.LeaderEpoch != tc.wantEpoch || p.EndOffset != tc.wantEnd {
				t.Errorf("%s answers partition %d epoch %d end %d, want partition %d epoch %d end %d",
					what, p.Partition, p.LeaderEpoch, p.EndOffset, partition, tc.wantEpoch, tc.wantEnd)
			}
		}
	}
}
