package segment

import "testing"

// Sinks keep the compiler from discarding benchmark results.
var (
	sinkSize   int64
	sinkFooter Footer
	sinkBytes  []byte
)

// BenchmarkBuilderAddFinish1000Partitions builds one flush object of 1,000 partitions with
// 4 batches of 1 KiB each, reusing the builder as the flusher does.
func BenchmarkBuilderAddFinish1000Partitions(b *testing.B) {
	const partitions, batchesPer, batchSize = 1000, 4, 1024
	batch := testBatch(batchSize, 1)
	ids := make([][16]byte, partitions)
	for p := range ids {
		ids[p] = topicID(p)
	}
	var bld Builder
	b.SetBytes(partitions * batchesPer * batchSize)
	b.ReportAllocs()
	for b.Loop() {
		bld.Reset()
		for r := range int64(batchesPer) {
			for p := range partitions {
				bld.Add(ids[p], int32(p%7), 1, batch, r*10, r*10+9, 1_700_000_000_000+r)
			}
		}
		_, sinkSize, sinkFooter = bld.Finish()
	}
}

// BenchmarkDecodeFooter1000Extents decodes the footer of a 1,000-partition object.
func BenchmarkDecodeFooter1000Extents(b *testing.B) {
	var bld Builder
	r := buildObject(b, &bld, 1000, 1)
	tail := r.obj[r.footer.FooterPos:]
	b.SetBytes(int64(len(tail)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := DecodeFooter(tail, r.size)
		if err != nil {
			b.Fatal(err)
		}
		sinkFooter = f
	}
}
