package codec

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testRecord is one record for buildBatch; its offset delta is its index.
type testRecord struct {
	tsDelta int64
	key     []byte // nil: null
	value   []byte // nil: null
	headers []RecordHeader
}

// batchSpec describes a batch for buildBatch.
type batchSpec struct {
	baseOffset    int64
	leaderEpoch   int32
	baseTimestamp int64
	maxTimestamp  int64 // 0: computed from the records
	compression   Compression
	attrs         int16 // extra attribute bits (transactional, control, log append time)
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	records       []testRecord
}

// encodeRecords encodes records with kmsg's Record encoder, independent of
// the parser under test.
func encodeRecords(recs []testRecord) []byte {
	var out []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: int32(i), Key: r.key, Value: r.value}
		for _, h := range r.headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: string(h.Key), Value: h.Value})
		}
		body := kr.AppendTo(nil)[1:] // Length 0 encodes as one byte: drop it
		out = binary.AppendVarint(out, int64(len(body)))
		out = append(out, body...)
	}
	return out
}

// buildBatch builds a valid record batch v2 with kmsg.RecordBatch and a
// correct CRC32C.
func buildBatch(tb testing.TB, s batchSpec) []byte {
	tb.Helper()
	raw := encodeRecords(s.records)
	recs, err := Compress(s.compression, nil, raw)
	if err != nil {
		tb.Fatal(err)
	}
	maxTS := s.maxTimestamp
	if maxTS == 0 {
		maxTS = s.baseTimestamp
		for _, r := range s.records {
			maxTS = max(maxTS, s.baseTimestamp+r.tsDelta)
		}
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          s.baseOffset,
		Length:               int32(BatchHeaderLen - 12 + len(recs)),
		PartitionLeaderEpoch: s.leaderEpoch,
		Magic:                2,
		Attributes:           int16(s.compression) | s.attrs,
		LastOffsetDelta:      int32(max(len(s.records)-1, 0)),
		FirstTimestamp:       s.baseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           s.producerID,
		ProducerEpoch:        s.producerEpoch,
		FirstSequence:        s.baseSequence,
		NumRecords:           int32(len(s.records)),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

// fixCRC recomputes a batch's CRC after a test edited it.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// simpleRecords returns n records with keys, values and 1 ms apart.
func simpleRecords(n, valueSize int) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		recs[i] = testRecord{tsDelta: int64(i), key: []byte{'k', byte(i)}, value: v}
	}
	return recs
}

var allCompressions = []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}
