package codec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// BatchHeaderLen is the size of a record batch v2 header; records follow it.
const BatchHeaderLen = 61

// Byte positions in a record batch v2.
const (
	posBaseOffset      = 0
	posBatchLength     = 8
	posLeaderEpoch     = 12
	posMagic           = 16
	posCRC             = 17
	posAttributes      = 21 // the CRC covers [posAttributes:]
	posLastOffsetDelta = 23
	posBaseTimestamp   = 27
	posMaxTimestamp    = 35
	posProducerID      = 43
	posProducerEpoch   = 51
	posBaseSequence    = 53
	posNumRecords      = 57

	// batchLengthOverhead is the bytes before and including BatchLength,
	// which BatchLength does not count.
	batchLengthOverhead = 12
)

// Attribute bits of a record batch v2.
const (
	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

// castagnoli is the CRC32C table; hash/crc32 uses SSE4.2/ARM CRC
// instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed header of a record batch v2.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // CRC32C of the bytes from Attributes to the end
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the codec named by the attributes.
func (h *BatchHeader) Compression() Compression {
	return Compression(h.Attributes & attrCompressionMask)
}

// LogAppendTime reports whether the batch's timestamps are broker append
// time (every record's timestamp is MaxTimestamp) rather than create time.
func (h *BatchHeader) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds a control record (commit/abort marker).
func (h *BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// LastOffset is the offset of the batch's last record.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the batch's total size in bytes, header included.
func (h *BatchHeader) Size() int { return batchLengthOverhead + int(h.BatchLength) }

// ParseBatchHeader reads the header at the start of b without checking the
// magic, the length or the CRC.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderLen {
		return BatchHeader{}, fmt.Errorf("cannot parse batch header: %d bytes, need %d: %w", len(b), BatchHeaderLen, ErrCorruptBatch)
	}
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[posBaseOffset:])),
		BatchLength:          int32(be.Uint32(b[posBatchLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[posLeaderEpoch:])),
		Magic:                int8(b[posMagic]),
		CRC:                  be.Uint32(b[posCRC:]),
		Attributes:           int16(be.Uint16(b[posAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[posLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[posBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[posMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[posProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[posProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[posBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[posNumRecords:])),
	}, nil
}

// ValidateBatch checks that b is exactly one record batch v2: magic 2
// (ErrUnsupportedMagic), BatchLength matching len(b) (ErrCorruptBatch), a
// known compression codec (ErrUnsupportedCompression), NumRecords >= 0 and
// no more records than offsets (ErrInvalidRecord), and the CRC32C over
// b[21:] (ErrCorruptBatch). Records are not decompressed or parsed.
//
// Kafka's extra rules for batches from producers (NumRecords > 0 and
// LastOffsetDelta == NumRecords-1) are the caller's: compacted stored batches
// legitimately break them.
func ValidateBatch(b []byte) (BatchHeader, error) {
	// Magic sits at the same position in v0/v1 message sets, which can be
	// shorter than a v2 header: name the real problem.
	if len(b) > posMagic && b[posMagic] != 2 {
		return BatchHeader{}, fmt.Errorf("cannot validate batch: magic %d: %w", int8(b[posMagic]), ErrUnsupportedMagic)
	}
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.BatchLength < BatchHeaderLen-batchLengthOverhead || int64(h.BatchLength)+batchLengthOverhead != int64(len(b)) {
		return h, fmt.Errorf("cannot validate batch: batch length %d in %d bytes: %w", h.BatchLength, len(b), ErrCorruptBatch)
	}
	if c := h.Compression(); c > CompressionZstd {
		return h, fmt.Errorf("cannot validate batch: compression %d: %w", c, ErrUnsupportedCompression)
	}
	if h.NumRecords < 0 || h.LastOffsetDelta < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("cannot validate batch: %d records, last offset delta %d: %w",
			h.NumRecords, h.LastOffsetDelta, ErrInvalidRecord)
	}
	if crc := crc32.Checksum(b[posAttributes:], castagnoli); crc != h.CRC {
		return h, fmt.Errorf("cannot validate batch: crc 0x%08x, computed 0x%08x: %w", h.CRC, crc, ErrCorruptBatch)
	}
	return h, nil
}

// NextBatch splits the first batch off b by its BatchLength, for walking a
// run of batches (stored ranges, produce Records). Only the framing is
// checked; validate the batch separately. An empty b is an error: loop while
// len(rest) > 0.
func NextBatch(b []byte) (batch, rest []byte, err error) {
	if len(b) < BatchHeaderLen {
		return nil, nil, fmt.Errorf("cannot split batch: %d bytes left, need %d: %w", len(b), BatchHeaderLen, ErrCorruptBatch)
	}
	n := int64(int32(binary.BigEndian.Uint32(b[posBatchLength:])))
	if n < BatchHeaderLen-batchLengthOverhead || n+batchLengthOverhead > int64(len(b)) {
		return nil, nil, fmt.Errorf("cannot split batch: batch length %d with %d bytes left: %w", n, len(b), ErrCorruptBatch)
	}
	size := int(n) + batchLengthOverhead
	return b[:size:size], b[size:], nil
}

// SplitBatches splits a produce request's Records field into its batches
// (aliased, capacity capped), checking only the framing; a trailing partial
// batch is an error. Empty records give no batches.
func SplitBatches(records []byte) ([][]byte, error) {
	var out [][]byte
	for len(records) > 0 {
		batch, rest, err := NextBatch(records)
		if err != nil {
			return nil, err
		}
		out = append(out, batch)
		records = rest
	}
	return out, nil
}

// SetBaseOffset patches the batch's base offset in place; it lies outside
// the CRC. b must hold at least a batch header (a BUG otherwise: panics).
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[posBaseOffset:posBaseOffset+8], uint64(off))
}

// SetPartitionLeaderEpoch patches the batch's partition leader epoch in
// place; it lies outside the CRC. b must hold at least a batch header.
func SetPartitionLeaderEpoch(b []byte, e int32) {
	binary.BigEndian.PutUint32(b[posLeaderEpoch:posLeaderEpoch+4], uint32(e))
}

// RebuildBatch appends to dst a copy of batch holding only n of its records,
// whose encoded bytes (as ForEachRawRecord hands them out, in offset order)
// are concatenated in records. Everything else of the header stays: base
// offset, last offset delta (so the batch still ends where it did, and a
// compacted log keeps its offsets, gaps included, as Kafka's cleaner does),
// base and max timestamp (records keep their deltas, hence their timestamps),
// producer fields and leader epoch. The records are compressed again with the
// batch's codec; a batch left with no records is written uncompressed, as
// Kafka writes an empty batch. The CRC is computed afresh.
func RebuildBatch(dst, batch, records []byte, n int32) ([]byte, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return dst, err
	}
	attrs := h.Attributes
	body := records
	if n == 0 {
		attrs &^= attrCompressionMask
		body = nil
	} else if c := h.Compression(); c != CompressionNone {
		if body, err = Compress(c, nil, records); err != nil {
			return dst, fmt.Errorf("cannot compress the records kept of batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	start := len(dst)
	dst = append(dst, batch[:BatchHeaderLen]...)
	dst = append(dst, body...)
	out := dst[start:]
	binary.BigEndian.PutUint32(out[posBatchLength:], uint32(len(out)-batchLengthOverhead))
	binary.BigEndian.PutUint16(out[posAttributes:], uint16(attrs))
	binary.BigEndian.PutUint32(out[posNumRecords:], uint32(n))
	binary.BigEndian.PutUint32(out[posCRC:], crc32.Checksum(out[posAttributes:], castagnoli))
	return dst, nil
}
