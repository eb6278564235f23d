package codec

import "testing"

var sinkBatchHeader BatchHeader

func BenchmarkValidateBatch(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			batch := buildBatch(b, batchSpec{records: simpleRecords(max(size/1024, 1), 1000)})
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				h, err := ValidateBatch(batch)
				if err != nil {
					b.Fatal(err)
				}
				sinkBatchHeader = h
			}
		})
	}
}

func BenchmarkSetBaseOffset(b *testing.B) {
	batch := buildBatch(b, batchSpec{records: simpleRecords(1, 100)})
	b.ReportAllocs()
	b.SetBytes(8)
	off := int64(0)
	for b.Loop() {
		off++
		SetBaseOffset(batch, off)
	}
}

func BenchmarkSplitBatches(b *testing.B) {
	batch := buildBatch(b, batchSpec{records: simpleRecords(16, 1000)})
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, err := SplitBatches(batch); err != nil {
			b.Fatal(err)
		}
	}
}
