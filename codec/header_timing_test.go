package codec

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	sinkHeader  RequestHeader
	sinkRequest kmsg.Request
)

func BenchmarkParseRequestHeader(b *testing.B) {
	for _, v := range []int16{8, 9} { // header v1, header v2 (flexible)
		b.Run(map[int16]string{8: "v1", 9: "v2-flexible"}[v], func(b *testing.B) {
			frame := produceFrame(b, v, buildBatch(b, batchSpec{records: simpleRecords(1, 10)}))
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				h, _, err := ParseRequestHeader(frame)
				if err != nil {
					b.Fatal(err)
				}
				sinkHeader = h
			}
		})
	}
}

func BenchmarkDecodeProduceRequest(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			batch := buildBatch(b, batchSpec{records: simpleRecords(size/1024, 1000)})
			frame := produceFrame(b, 9, batch)
			hdr, body, err := ParseRequestHeader(frame)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				req, err := DecodeRequest(hdr, body)
				if err != nil {
					b.Fatal(err)
				}
				sinkRequest = req
			}
		})
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
