package codec

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	fitSink    []string
	appendSink []byte
)

// produceResponse is a Produce v7 answer for 2,000 partitions of 20 topics: 60 KB, so
// AppendResponse walks it.
func produceResponse() *kmsg.ProduceResponse {
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(7)
	for t := range 20 {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = string(rune('a' + t))
		for p := range 100 {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = int32(p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// BenchmarkAppendResponseProduce measures encoding a large non-flexible response with
// the string check; BenchmarkAppendToProduce is the same without it.
func BenchmarkAppendResponseProduce(b *testing.B) {
	resp := produceResponse()
	buf := resp.AppendTo(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, fitSink = AppendResponse(buf[:0], resp)
	}
	appendSink = buf
}

func BenchmarkAppendToProduce(b *testing.B) {
	resp := produceResponse()
	buf := resp.AppendTo(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = resp.AppendTo(buf[:0])
	}
	appendSink = buf
}
