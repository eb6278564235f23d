package codec

import "testing"

var sinkOffset int64

func BenchmarkFindOffsetByTimestamp(b *testing.B) {
	for _, c := range allCompressions {
		b.Run(c.String(), func(b *testing.B) {
			batch := buildBatch(b, batchSpec{compression: c, records: simpleRecords(256, 256)})
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				off, _, found, err := FindOffsetByTimestamp(batch, 255, 1<<20) // the last record
				if err != nil || !found {
					b.Fatal(err)
				}
				sinkOffset = off
			}
		})
	}
}
