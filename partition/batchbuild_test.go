package partition

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/codec"
)

// buildBatch returns a valid, uncompressed record batch v2 with one record per timestamp
// (record i has offset delta i), encoded with kmsg independently of codec, CRC32C included.
func buildBatch(tb testing.TB, timestamps ...int64) []byte {
	tb.Helper()
	return buildBatchCounts(tb, len(timestamps), int32(max(len(timestamps)-1, 0)), timestamps)
}

// buildBatchCounts is buildBatch with the header's NumRecords and LastOffsetDelta given, to
// build batches a producer must not send.
func buildBatchCounts(tb testing.TB, numRecords int, lastOffsetDelta int32, timestamps []int64) []byte {
	tb.Helper()
	var base, maxTs int64
	if len(timestamps) > 0 {
		base, maxTs = timestamps[0], timestamps[0]
	}
	var recs []byte
	for i, ts := range timestamps {
		maxTs = max(maxTs, ts)
		r := kmsg.Record{TimestampDelta64: ts - base, OffsetDelta: int32(i), Key: []byte{'k', byte(i)}, Value: []byte("value")}
		body := r.AppendTo(nil)[1:] // Length 0 encodes as one byte: drop it
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(codec.BatchHeaderLen - 12 + len(recs)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      lastOffsetDelta,
		FirstTimestamp:       base,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(numRecords),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	if _, err := codec.ValidateBatch(b); err != nil {
		tb.Fatalf("test batch invalid: %v", err)
	}
	return b
}

// header parses a batch built by the helpers.
func header(tb testing.TB, b []byte) codec.BatchHeader {
	tb.Helper()
	h, err := codec.ValidateBatch(b)
	if err != nil {
		tb.Fatalf("invalid batch: %v", err)
	}
	return h
}

// timestamps returns n timestamps from start, step apart.
func timestamps(start, step int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out
}
