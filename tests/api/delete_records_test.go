package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// deleteRecords sends DeleteRecords (at version) for one partition and returns its answer.
func deleteRecords(t *testing.T, c *conn, version int16, topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version = version
	req.TimeoutMillis = 30000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.DeleteRecordsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("DeleteRecords of one partition answers %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// TestDeleteRecords (issue 13, acceptance 2): DeleteRecords moves the log start as Kafka's
// does, at every version; ListOffsets earliest and Fetch follow it; the move survives a
// restart.
func TestDeleteRecords(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	createTopic(t, c, topic, 2, nil)
	for range 10 {
		produceOK(t, c, topic, 0, batchOf(10, 20))
	}
	for _, tc := range []struct {
		version int16
		offset  int64
		want    int64
		code    *kerr.Error
	}{
		{0, 40, 40, nil},
		{1, 20, 40, nil}, // below the log start: unchanged
		{2, 45, 45, nil}, // inside a batch
		{2, 101, -1, kerr.OffsetOutOfRange},
		{2, -2, -1, kerr.OffsetOutOfRange},
	} {
		got := deleteRecords(t, c, tc.version, topic, 0, tc.offset)
		wantCode(t, fmt.Sprintf("DeleteRecords v%d to %d", tc.version, tc.offset), got.ErrorCode, tc.code)
		if got.LowWatermark != tc.want {
			t.Errorf("DeleteRecords v%d to %d answers low watermark %d, want %d", tc.version, tc.offset, got.LowWatermark, tc.want)
		}
	}
	if got := listOffset(t, c, 7, topic, 0, -2); got.Offset != 45 {
		t.Errorf("ListOffsets earliest after DeleteRecords: %d, want 45", got.Offset)
	}
	_, p := fetchOne(t, c, fetchReq(12, topic, [16]byte{}, 0, 30))
	wantCode(t, "Fetch below the log start", p.ErrorCode, kerr.OffsetOutOfRange)
	_, p = fetchOne(t, c, fetchReq(12, topic, [16]byte{}, 0, 45))
	wantCode(t, "Fetch at the log start", p.ErrorCode, nil)
	if p.LogStartOffset != 45 {
		t.Errorf("Fetch answers log start %d, want 45", p.LogStartOffset)
	}
	batches := splitBatches(t, p.RecordBatches)
	if len(batches) == 0 || batchBase(batches[0]) != 40 {
		t.Errorf("Fetch at 45 returns %d batches starting at %v, want the batch at 40 first", len(batches), batchBaseOrNone(batches))
	}
	// The other partition, an unknown one and an unknown topic.
	wantCode(t, "DeleteRecords of an empty partition to -1", deleteRecords(t, c, 2, topic, 1, -1).ErrorCode, nil)
	wantCode(t, "DeleteRecords of partition 7", deleteRecords(t, c, 2, topic, 7, 0).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "DeleteRecords of an unknown topic", deleteRecords(t, c, 2, topic+"-none", 0, 0).ErrorCode, kerr.UnknownTopicOrPartition)
	// To the high watermark, then a restart.
	if got := deleteRecords(t, c, 2, topic, 0, -1); got.ErrorCode != 0 || got.LowWatermark != 100 {
		t.Fatalf("DeleteRecords to -1: %s, low watermark %d; want 100", errName(got.ErrorCode), got.LowWatermark)
	}
	b.Kill()
	b.Restart()
	c = dial(ctx, t, b.Addr)
	kafkatest.WaitUntil(t, 30*time.Second, "the log start to be 100 after a restart", func() error {
		got := listOffset(t, c, 7, topic, 0, -2)
		if got.ErrorCode != 0 || got.Offset != 100 {
			return fmt.Errorf("ListOffsets earliest: %s, %d", errName(got.ErrorCode), got.Offset)
		}
		return nil
	})
}

func batchBaseOrNone(batches [][]byte) any {
	if len(batches) == 0 {
		return "none"
	}
	return batchBase(batches[0])
}
