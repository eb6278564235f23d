package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Record is one record of a batch, as ForEachRecord hands it out. Key, Value
// and Headers alias the batch or a decompression buffer: they are valid only
// during the callback. A null key or value is nil.
type Record struct {
	Offset     int64
	Timestamp  int64
	Attributes int8
	Key        []byte
	Value      []byte
	Headers    []RecordHeader
}

// RecordHeader is one record header (a null value is nil).
type RecordHeader struct {
	Key   []byte
	Value []byte
}

// ForEachRecord calls fn for each record of batch, in order, until fn returns
// false. The batch header is read but its CRC is not checked (ValidateBatch
// does that). Compressed records are decompressed first, at most
// maxDecompressed bytes (ErrDecompressedTooLarge beyond). A record count that
// differs from the header's, a malformed record or trailing bytes return
// ErrInvalidRecord, after fn has seen the records before the fault.
func ForEachRecord(batch []byte, maxDecompressed int, fn func(*Record) bool) error {
	return ForEachRawRecord(batch, maxDecompressed, func(r *Record, _ []byte) bool { return fn(r) })
}

// ForEachRawRecord is ForEachRecord that also hands fn each record's encoded
// bytes (its length varint included, decompressed), which RebuildBatch copies
// unchanged into a batch keeping some of the records (log compaction).
func ForEachRawRecord(batch []byte, maxDecompressed int, fn func(r *Record, raw []byte) bool) error {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return err
	}
	if h.Size() < BatchHeaderLen || h.Size() > len(batch) {
		return fmt.Errorf("cannot read records: batch length %d in %d bytes: %w", h.BatchLength, len(batch), ErrCorruptBatch)
	}
	recs := batch[BatchHeaderLen:h.Size()]
	if c := h.Compression(); c != CompressionNone {
		if recs, err = Decompress(c, nil, recs, maxDecompressed); err != nil {
			return fmt.Errorf("cannot read records of batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	var (
		r    Record
		seen int32
	)
	for len(recs) > 0 {
		if seen == h.NumRecords {
			return fmt.Errorf("cannot read records of batch at offset %d: %d trailing bytes after %d records: %w",
				h.BaseOffset, len(recs), seen, ErrInvalidRecord)
		}
		start := recs
		if recs, err = parseRecord(recs, &h, &r); err != nil {
			return fmt.Errorf("cannot read record %d of batch at offset %d: %w", seen, h.BaseOffset, err)
		}
		seen++
		if !fn(&r, start[:len(start)-len(recs)]) {
			return nil
		}
	}
	if seen != h.NumRecords {
		return fmt.Errorf("cannot read records of batch at offset %d: %d records, header says %d: %w",
			h.BaseOffset, seen, h.NumRecords, ErrInvalidRecord)
	}
	return nil
}

// FindOffsetByTimestamp returns the first record of batch whose timestamp is
// at or after ts (what ListOffsets by timestamp answers), reading records
// only if the batch's MaxTimestamp says one can match, as Kafka does.
// maxDecompressed caps decompression as in ForEachRecord; a caller hitting
// ErrDecompressedTooLarge may answer the batch's base offset instead.
func FindOffsetByTimestamp(batch []byte, ts int64, maxDecompressed int) (offset, timestamp int64, found bool, err error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return 0, 0, false, err
	}
	if h.MaxTimestamp < ts {
		return 0, 0, false, nil
	}
	err = ForEachRecord(batch, maxDecompressed, func(r *Record) bool {
		if r.Timestamp >= ts {
			offset, timestamp, found = r.Offset, r.Timestamp, true
			return false
		}
		return true
	})
	if err != nil {
		return 0, 0, false, err
	}
	return offset, timestamp, found, nil
}

// parseRecord reads one record v2 from b into r and returns the rest:
//
//	length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
//	key (varint length, -1 null), value (same), header count varint,
//	headers (key: varint length, value: varint length, -1 null).
func parseRecord(b []byte, h *BatchHeader, r *Record) ([]byte, error) {
	n, b, err := readVarint(b)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(b)) {
		return nil, fmt.Errorf("record length %d with %d bytes left: %w", n, len(b), ErrInvalidRecord)
	}
	rec, rest := b[:n], b[n:]
	if len(rec) < 1 {
		return nil, fmt.Errorf("empty record: %w", ErrInvalidRecord)
	}
	r.Attributes = int8(rec[0])
	rec = rec[1:]
	var tsDelta, offDelta, count int64
	if tsDelta, rec, err = readVarint(rec); err != nil {
		return nil, err
	}
	if offDelta, rec, err = readVarint(rec); err != nil {
		return nil, err
	}
	if offDelta < math.MinInt32 || offDelta > math.MaxInt32 {
		return nil, fmt.Errorf("offset delta %d: %w", offDelta, ErrInvalidRecord)
	}
	r.Offset = h.BaseOffset + offDelta
	r.Timestamp = h.BaseTimestamp + tsDelta
	if h.LogAppendTime() {
		r.Timestamp = h.MaxTimestamp
	}
	if r.Key, rec, err = readVarBytes(rec); err != nil {
		return nil, err
	}
	if r.Value, rec, err = readVarBytes(rec); err != nil {
		return nil, err
	}
	if count, rec, err = readVarint(rec); err != nil {
		return nil, err
	}
	// Each header takes at least 2 bytes: bound the count before using it.
	if count < 0 || count > int64(len(rec)/2) {
		return nil, fmt.Errorf("%d headers in %d bytes: %w", count, len(rec), ErrInvalidRecord)
	}
	r.Headers = r.Headers[:0]
	for i := int64(0); i < count; i++ {
		var hdr RecordHeader
		if hdr.Key, rec, err = readVarBytes(rec); err != nil {
			return nil, err
		}
		if hdr.Key == nil {
			return nil, fmt.Errorf("null header key: %w", ErrInvalidRecord)
		}
		if hdr.Value, rec, err = readVarBytes(rec); err != nil {
			return nil, err
		}
		r.Headers = append(r.Headers, hdr)
	}
	if len(rec) != 0 {
		return nil, fmt.Errorf("%d bytes left inside record: %w", len(rec), ErrInvalidRecord)
	}
	return rest, nil
}

// readVarint reads a zigzag varint (Kafka's varint and varlong).
func readVarint(b []byte) (int64, []byte, error) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("bad varint: %w", ErrInvalidRecord)
	}
	return v, b[n:], nil
}

// readVarBytes reads varint-length-prefixed bytes; length -1 is null (nil).
func readVarBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readVarint(b)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case n == -1:
		return nil, b, nil
	case n < -1 || n > int64(len(b)):
		return nil, nil, fmt.Errorf("field length %d with %d bytes left: %w", n, len(b), ErrInvalidRecord)
	}
	return b[:n:n], b[n:], nil
}
