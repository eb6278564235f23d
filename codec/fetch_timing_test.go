package codec

import (
	"strconv"
	"testing"
)

var sinkParts [][]byte

// BenchmarkAppendFetchResponse shows that record bytes are not copied: B/op
// and allocs/op stay the same whatever the record size (SetBytes counts the
// records, so MB/s grows with it).
func BenchmarkAppendFetchResponse(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(byteSize(size)+"-per-partition", func(b *testing.B) {
			batch := buildBatch(b, batchSpec{records: simpleRecords(max(size/1024, 1), 1000)})
			r := &FetchResponse{}
			for t := range 4 {
				topic := FetchTopic{Topic: "topic-" + strconv.Itoa(t), TopicID: [16]byte{byte(t)}}
				for p := range 8 {
					topic.Partitions = append(topic.Partitions, FetchPartition{
						Partition: int32(p), HighWatermark: 1 << 30, LastStableOffset: 1 << 30, Records: [][]byte{batch},
					})
				}
				r.Topics = append(r.Topics, topic)
			}
			var (
				parts   [][]byte
				scratch []byte
			)
			b.ReportAllocs()
			b.SetBytes(int64(32 * len(batch)))
			for b.Loop() {
				parts, scratch = AppendFetchResponse(parts[:0], scratch[:0], 16, 1, r)
			}
			sinkParts = parts
		})
	}
}
