package reqmetrics

import (
	"fmt"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func errorsCounted(api, errName string) uint64 {
	return metrics.GetOrCreateCounter(fmt.Sprintf(`kafscale_request_errors_total{api=%q,error=%q}`, api, errName)).Get()
}

func TestCountResponseCountsEveryErrorCode(t *testing.T) {
	produce := &kmsg.ProduceResponse{Topics: []kmsg.ProduceResponseTopic{
		{Topic: "a", Partitions: []kmsg.ProduceResponseTopicPartition{
			{Partition: 0, ErrorCode: kerr.NotLeaderForPartition.Code},
			{Partition: 1},
			{Partition: 2, ErrorCode: kerr.NotLeaderForPartition.Code},
		}},
		{Topic: "b", Partitions: []kmsg.ProduceResponseTopicPartition{{ErrorCode: kerr.CorruptMessage.Code}}},
	}}
	// ErrorCode at the top, in a pointer field and in a slice of slices.
	metadata := &kmsg.MetadataResponse{Topics: []kmsg.MetadataResponseTopic{
		{ErrorCode: kerr.UnknownTopicOrPartition.Code, Partitions: []kmsg.MetadataResponseTopicPartition{{ErrorCode: kerr.LeaderNotAvailable.Code}}},
	}}
	offsetFetch := &kmsg.OffsetFetchResponse{ErrorCode: kerr.NotCoordinator.Code, Groups: []kmsg.OffsetFetchResponseGroup{{ErrorCode: kerr.NotCoordinator.Code}}}

	type want struct {
		api, err string
		n        uint64
	}
	tests := []struct {
		name string
		resp kmsg.Response
		want []want
	}{
		{"partition errors of two topics", produce, []want{{"Produce", "NOT_LEADER_OR_FOLLOWER", 2}, {"Produce", "CORRUPT_MESSAGE", 1}}},
		{"topic and partition levels", metadata, []want{{"Metadata", "UNKNOWN_TOPIC_OR_PARTITION", 1}, {"Metadata", "LEADER_NOT_AVAILABLE", 1}}},
		{"top level and groups", offsetFetch, []want{{"OffsetFetch", "NOT_COORDINATOR", 2}}},
		{"no error", &kmsg.ApiVersionsResponse{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := make([]uint64, len(tt.want))
			for i, w := range tt.want {
				before[i] = errorsCounted(w.api, w.err)
			}
			CountResponse(tt.resp)
			for i, w := range tt.want {
				if got := errorsCounted(w.api, w.err) - before[i]; got != w.n {
					t.Errorf("%s %s: counted %d, want %d", w.api, w.err, got, w.n)
				}
			}
		})
	}
}

func TestErrorNameIsKafkas(t *testing.T) {
	for code, want := range map[int16]string{
		0: "NONE", 6: "NOT_LEADER_OR_FOLLOWER", 3: "UNKNOWN_TOPIC_OR_PARTITION",
		7: "REQUEST_TIMED_OUT", 16: "NOT_COORDINATOR", -1: "UNKNOWN_SERVER_ERROR", 32000: "UNKNOWN_CODE_32000",
	} {
		if got := ErrorName(code); got != want {
			t.Errorf("ErrorName(%d) = %s, want %s", code, got, want)
		}
	}
	if got := APIName(int16(kmsg.InitProducerID)); got != "InitProducerId" {
		t.Errorf("APIName(InitProducerID) = %s", got)
	}
}

var sink int

func BenchmarkCountResponseProduce(b *testing.B) {
	resp := &kmsg.ProduceResponse{Topics: []kmsg.ProduceResponseTopic{{Topic: "a", Partitions: make([]kmsg.ProduceResponseTopicPartition, 8)}}}
	resp.Topics[0].Partitions[3].ErrorCode = kerr.NotLeaderForPartition.Code
	b.ReportAllocs()
	for b.Loop() {
		CountResponse(resp)
		sink++
	}
}
