package codec

import "testing"

// BenchmarkValidateRecords measures the produce-time record walk of a typical producer
// batch (64 records of 200 bytes, ~14 KiB before compression) for each codec; bytes/s are
// the batch's bytes as sent.
func BenchmarkValidateRecords(b *testing.B) {
	for _, c := range allCompressions {
		b.Run(c.String(), func(b *testing.B) {
			batch := buildBatch(b, batchSpec{compression: c, records: simpleRecords(64, 200)})
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				if err := ValidateRecords(batch, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateRecordsBomb measures refusing a zstd batch of 1 GiB of zeros at the
// default bound (64 x max.message.bytes): the work a hostile batch can cost.
func BenchmarkValidateRecordsBomb(b *testing.B) {
	for _, c := range []Compression{CompressionGzip, CompressionZstd} {
		b.Run(c.String(), func(b *testing.B) {
			batch := rewrapBatch(b, c, bombRecord(80<<20), 1, false)
			limit := DecompressedLimit(1048588)
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				if err := ValidateRecords(batch, limit); err == nil {
					b.Fatal("bomb accepted")
				}
			}
		})
	}
}
