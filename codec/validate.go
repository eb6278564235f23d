package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DecompressedRatio bounds a batch's decompressed records to this many times the topic's
// max.message.bytes (which Kafka applies to the batch as sent, compressed). Kafka has no
// such bound; real producers stay far below it (the Java client fills batch.size with
// compressed bytes, so its batches expand by the data's compression ratio, rarely past
// 10x), while a bomb (1 GiB from 32 KiB of zstd) is refused after a bounded amount of work.
const DecompressedRatio = 64

// MaxDecompressedBatch caps DecompressedLimit whatever max.message.bytes is, and is what
// readers of stored batches allow: nothing validated on the way in is refused on the way out.
const MaxDecompressedBatch = 1 << 30

// DecompressedLimit returns the most bytes a batch's records may decompress to on a topic
// whose max.message.bytes is maxMessageBytes.
func DecompressedLimit(maxMessageBytes int) int {
	return int(min(int64(max(maxMessageBytes, 0))*DecompressedRatio, MaxDecompressedBatch))
}

// ValidateRecords walks every record of batch (which ValidateBatch accepted), as Kafka's
// LogValidator does on append, so that nothing a consumer cannot decode is stored:
//   - each record's length, key, value and headers are within the record, header keys are
//     not null, and the record's fields fill it exactly (ErrInvalidRecord);
//   - record i has offset delta i, the rule for v2 batches from clients (ErrInvalidRecord);
//   - the batch holds exactly NumRecords records and nothing after them (ErrInvalidRecord);
//   - compressed records decompress (ErrCorruptBatch) to at most maxDecompressed bytes
//     (ErrDecompressedTooLarge).
//
// Compressed records are decompressed as a stream through a small reused window and never
// held whole, so a bomb costs at most maxDecompressed bytes of decompression work and no
// memory beyond the decoder's. Uncompressed batches are walked in place, without allocating.
func ValidateRecords(batch []byte, maxDecompressed int) error {
	return walkRecords(batch, maxDecompressed, true, false, nil)
}

// ValidateKeyedRecords is ValidateRecords for a compacted topic, which also refuses a record
// without a key (ErrMissingKey), as Kafka's LogValidator does.
func ValidateKeyedRecords(batch []byte, maxDecompressed int) error {
	return walkRecords(batch, maxDecompressed, true, true, nil)
}

// ScanRecords calls fn with the offset and timestamp of each record of a stored batch, in
// order, until fn returns false, with the checks and the streaming of ValidateRecords but
// one: offset deltas need only increase within the batch's range, as compaction leaves them.
// Keys, values and headers are skipped, not read.
func ScanRecords(batch []byte, maxDecompressed int, fn func(offset, timestamp int64) bool) error {
	return walkRecords(batch, maxDecompressed, false, false, fn)
}

// walkRecords walks batch's records; strict demands offset delta i for record i (a batch
// from a client) rather than increasing deltas (a stored batch).
// keyed refuses null keys.
func walkRecords(batch []byte, limit int, strict, keyed bool, fn func(offset, timestamp int64) bool) error {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return err
	}
	if h.Size() < BatchHeaderLen || h.Size() > len(batch) {
		return fmt.Errorf("cannot read records: batch length %d in %d bytes: %w", h.BatchLength, len(batch), ErrCorruptBatch)
	}
	if h.NumRecords < 0 {
		return fmt.Errorf("cannot read records of batch at offset %d: record count %d: %w", h.BaseOffset, h.NumRecords, ErrInvalidRecord)
	}
	recs := batch[BatchHeaderLen:h.Size()]
	c := h.Compression()
	if c == CompressionNone {
		s := recordStream{buf: recs, end: len(recs), err: io.EOF, strict: strict, keyed: keyed}
		return s.walk(&h, fn)
	}
	if c > CompressionZstd {
		return fmt.Errorf("cannot read records of batch at offset %d: compression %d: %w", h.BaseOffset, c, ErrUnsupportedCompression)
	}
	decompressSlots <- struct{}{}
	defer func() { <-decompressSlots }()
	s := recordStreams.Get().(*recordStream)
	defer s.release()
	s.strict = strict
	s.keyed = keyed
	if err := s.open(c, recs, limit); err != nil {
		return fmt.Errorf("cannot decompress records of batch at offset %d: %w", h.BaseOffset, err)
	}
	return s.walk(&h, fn)
}

// decompressSlots bounds the batches decompressed at once. The work is CPU-bound, so more
// than one per core gains nothing, and each decoder may hold up to a window of history
// (zstdMaxWindow): without a bound, every connection producing at once would hold one.
var decompressSlots = make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))

// streamWindow is the decompressed bytes a recordStream holds at once; Kafka's own
// decompression buffer is 16 KiB.
const streamWindow = 32 << 10

// recordStreams pools the state of compressed walks (window, reader, snappy chunk).
var recordStreams = sync.Pool{New: func() any { return &recordStream{window: make([]byte, streamWindow)} }}

// recordStream reads a batch's records: in place for uncompressed records (buf is the
// records, src nil), or through a decompressor into window, counting decompressed bytes
// against a limit. Used by one goroutine.
type recordStream struct {
	buf      []byte
	pos, end int   // buf[pos:end] is read but not consumed
	base     int64 // stream bytes consumed before buf[0]
	src      io.Reader
	taken    int64 // bytes read from src
	limit    int64
	err      error // sticky: io.EOF at the end of the records, or why they cannot be read
	strict   bool  // record i must have offset delta i
	keyed    bool  // a null key is ErrMissingKey
	delta    int64 // offset delta of the last record read, -1 before the first

	window []byte
	br     bytes.Reader
	sn     snappyReader
	gz     *gzip.Reader
	lz     *lz4.Reader
	zd     *zstd.Decoder
}

// open starts decompressing src, compressed with c, into the window.
func (s *recordStream) open(c Compression, src []byte, limit int) error {
	s.buf, s.pos, s.end, s.base, s.taken, s.limit, s.err = s.window, 0, 0, 0, 0, int64(limit), nil
	s.br.Reset(src)
	switch c {
	case CompressionGzip:
		s.gz, _ = gzipReaders.Get().(*gzip.Reader)
		if s.gz == nil {
			s.gz = new(gzip.Reader)
		}
		if err := s.gz.Reset(&s.br); err != nil {
			return fmt.Errorf("%w: %v", ErrCorruptBatch, err)
		}
		s.src = s.gz
	case CompressionSnappy:
		s.sn.reset(src, limit)
		s.src = &s.sn
	case CompressionLZ4:
		s.lz = lz4Readers.Get().(*lz4.Reader)
		s.lz.Reset(&s.br)
		s.src = s.lz
	case CompressionZstd:
		var err error
		if s.zd, err = getZstd(); err != nil {
			return err
		}
		if err := s.zd.Reset(&s.br); err != nil {
			return fmt.Errorf("%w: %v", ErrCorruptBatch, err)
		}
		s.src = s.zd
	}
	return nil
}

// release returns the decoders to their pools, drops references to the batch and puts s
// back in recordStreams.
func (s *recordStream) release() {
	if s.gz != nil {
		gzipReaders.Put(s.gz)
		s.gz = nil
	}
	if s.lz != nil {
		s.lz.Reset(nil)
		lz4Readers.Put(s.lz)
		s.lz = nil
	}
	if s.zd != nil {
		_ = s.zd.Reset(nil)
		zstdReaders.Put(s.zd)
		s.zd = nil
	}
	s.br.Reset(nil)
	s.sn.reset(nil, 0)
	s.buf, s.src, s.err = nil, nil, nil
	recordStreams.Put(s)
}

// walk reads h.NumRecords records and checks that nothing follows them.
func (s *recordStream) walk(h *BatchHeader, fn func(offset, timestamp int64) bool) error {
	s.delta = -1
	for i := int32(0); i < h.NumRecords; i++ {
		off, ts, err := s.record(h, i)
		if err != nil {
			return fmt.Errorf("cannot read record %d of %d in batch at offset %d: %w", i, h.NumRecords, h.BaseOffset, err)
		}
		if fn != nil && !fn(off, ts) {
			return nil
		}
	}
	if s.pos == s.end {
		s.fill(1)
	}
	if s.pos < s.end {
		return fmt.Errorf("cannot read records of batch at offset %d: bytes left after its %d records: %w", h.BaseOffset, h.NumRecords, ErrInvalidRecord)
	}
	if s.err != io.EOF {
		return fmt.Errorf("cannot read records of batch at offset %d: %w", h.BaseOffset, s.err)
	}
	return nil
}

// record reads record i of the batch and returns its offset and timestamp:
//
//	length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
//	key (varint length, -1 null), value (same), header count varint,
//	headers (key: varint length, value: varint length, -1 null).
func (s *recordStream) record(h *BatchHeader, i int32) (offset, timestamp int64, err error) {
	length, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	// Uncompressed, the bytes left are known: Kafka's "Invalid record size" at once.
	if length < 1 || length > math.MaxInt32 || (s.src == nil && length > int64(s.end-s.pos)) {
		return 0, 0, fmt.Errorf("record length %d: %w", length, ErrInvalidRecord)
	}
	end := s.consumed() + length
	if err := s.skip(1); err != nil { // attributes: none defined for records
		return 0, 0, err
	}
	tsDelta, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	offDelta, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	if (s.strict && offDelta != int64(i)) || offDelta <= s.delta || offDelta > int64(h.LastOffsetDelta) {
		return 0, 0, fmt.Errorf("offset delta %d after %d, last offset delta %d: %w", offDelta, s.delta, h.LastOffsetDelta, ErrInvalidRecord)
	}
	s.delta = offDelta
	keyLen, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	if s.keyed && keyLen == -1 {
		return 0, 0, fmt.Errorf("compacted topic cannot accept a record without a key: %w", ErrMissingKey)
	}
	if err := s.skipLen("key", keyLen, -1, end); err != nil {
		return 0, 0, err
	}
	if err := s.skipBytes("value", -1, end); err != nil {
		return 0, 0, err
	}
	count, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	// Each header takes at least 2 bytes: bound the count before walking it.
	if left := end - s.consumed(); count < 0 || count > left/2 {
		return 0, 0, fmt.Errorf("%d headers in %d bytes: %w", count, max(left, 0), ErrInvalidRecord)
	}
	for range count {
		if err := s.skipBytes("header key", 0, end); err != nil {
			return 0, 0, err
		}
		if err := s.skipBytes("header value", -1, end); err != nil {
			return 0, 0, err
		}
	}
	if got := s.consumed() - (end - length); got != length {
		return 0, 0, fmt.Errorf("record length %d, its fields take %d: %w", length, got, ErrInvalidRecord)
	}
	timestamp = h.BaseTimestamp + tsDelta
	if h.LogAppendTime() {
		timestamp = h.MaxTimestamp
	}
	return h.BaseOffset + offDelta, timestamp, nil
}

// skipBytes skips a varint-length-prefixed field whose length must be at least minLen
// (-1 allows null) and end within the record, which ends at stream position end.
func (s *recordStream) skipBytes(what string, minLen, end int64) error {
	n, err := s.varint()
	if err != nil {
		return err
	}
	return s.skipLen(what, n, minLen, end)
}

// skipLen is skipBytes once the field's length n is read.
func (s *recordStream) skipLen(what string, n, minLen, end int64) error {
	if left := end - s.consumed(); n < minLen || n > left {
		return fmt.Errorf("%s length %d with %d bytes left in the record: %w", what, n, max(left, 0), ErrInvalidRecord)
	}
	return s.skip(n)
}

// consumed returns the stream bytes consumed so far.
func (s *recordStream) consumed() int64 { return s.base + int64(s.pos) }

// varint reads a zigzag varint (Kafka's varint and varlong).
func (s *recordStream) varint() (int64, error) {
	// Most fields (deltas, short lengths, header counts) fit one byte: skip the general case.
	if s.pos < s.end {
		if c := s.buf[s.pos]; c < 0x80 {
			s.pos++
			return int64(c>>1) ^ -int64(c&1), nil
		}
	}
	if s.end-s.pos < binary.MaxVarintLen64 {
		s.fill(binary.MaxVarintLen64)
	}
	v, n := binary.Varint(s.buf[s.pos:s.end])
	switch {
	case n > 0:
		s.pos += n
		return v, nil
	case n == 0:
		return 0, s.short()
	}
	return 0, fmt.Errorf("varint over 64 bits: %w", ErrInvalidRecord)
}

// skip consumes n bytes, reading through the window for compressed records.
func (s *recordStream) skip(n int64) error {
	for n > 0 {
		if s.pos == s.end {
			if s.fill(1); s.pos == s.end {
				return s.short()
			}
		}
		k := int(min(n, int64(s.end-s.pos)))
		s.pos += k
		n -= int64(k)
	}
	return nil
}

// short explains why the records ended before a field did: the decompressor's error, or
// records that end early (Kafka: "Incorrect declared batch size, premature EOF reached").
func (s *recordStream) short() error {
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return fmt.Errorf("records end inside a record: %w", ErrInvalidRecord)
}

// fill reads from src until need bytes are unconsumed (need <= len(window)), the records
// end, or reading fails; the error is kept in s.err. It reads at most one byte past the
// limit, which tells a stream of exactly limit bytes from a longer one.
func (s *recordStream) fill(need int) {
	if s.err != nil || s.end-s.pos >= need {
		return
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.pos = 0
	}
	for idle := 0; s.end < need && s.err == nil; {
		p := s.buf[s.end:]
		if rem := s.limit - s.taken + 1; int64(len(p)) > rem {
			p = p[:rem]
		}
		n, err := s.src.Read(p)
		s.end += n
		s.taken += int64(n)
		switch {
		case s.taken > s.limit:
			s.err = fmt.Errorf("records decompress to more than %d bytes: %w", s.limit, ErrDecompressedTooLarge)
		case err == io.EOF:
			s.err = io.EOF
		case errors.Is(err, ErrDecompressedTooLarge), errors.Is(err, ErrCorruptBatch):
			s.err = err
		case err != nil:
			s.err = fmt.Errorf("%w: %v", ErrCorruptBatch, err)
		case n == 0:
			if idle++; idle == 100 {
				s.err = fmt.Errorf("%w: %v", ErrCorruptBatch, io.ErrNoProgress)
			}
		}
	}
}

// snappyReader decompresses snappy records as a stream of chunks: xerial framing (the
// Java client's, 32 KiB chunks) one chunk at a time, a raw block (franz-go's, librdkafka's)
// whole. A raw block cannot be decoded in pieces, but its decoded size is stated up front
// and checked against the limit, and snappy cannot expand more than ~21x, so it is bounded
// by the batch's size before anything is allocated.
type snappyReader struct {
	src    []byte // compressed bytes not yet decoded
	xerial bool
	raw    bool   // a raw block not yet decoded (even an empty one: that is corrupt)
	chunk  []byte // decoded bytes; chunk[off:] unread
	off    int
	left   int // decompressed bytes the limit still allows
}

func (r *snappyReader) reset(src []byte, limit int) {
	r.xerial = len(src) >= xerialHeaderLen && bytes.Equal(src[:len(xerialMagic)], xerialMagic)
	if r.xerial {
		src = src[xerialHeaderLen:]
	}
	r.src, r.raw, r.chunk, r.off, r.left = src, !r.xerial && src != nil, r.chunk[:0], 0, limit
	if cap(r.chunk) > 1<<20 {
		r.chunk = nil // keep pooled memory small after a large raw block
	}
}

// Read implements io.Reader.
func (r *snappyReader) Read(p []byte) (int, error) {
	for r.off == len(r.chunk) {
		if !r.raw && len(r.src) == 0 {
			return 0, io.EOF
		}
		r.raw = false
		block, rest := r.src, []byte(nil)
		if r.xerial {
			if len(r.src) < 4 {
				return 0, fmt.Errorf("%w: xerial chunk length truncated", ErrCorruptBatch)
			}
			size := binary.BigEndian.Uint32(r.src)
			if uint64(size) > uint64(len(r.src)-4) {
				return 0, fmt.Errorf("%w: xerial chunk of %d bytes with %d left", ErrCorruptBatch, size, len(r.src)-4)
			}
			block, rest = r.src[4:4+size], r.src[4+size:]
		}
		var err error
		if r.chunk, err = decodeSnappyBlock(r.chunk[:0], block, r.left); err != nil {
			return 0, err
		}
		r.src = rest
		r.off = 0
		r.left -= len(r.chunk)
	}
	n := copy(p, r.chunk[r.off:])
	r.off += n
	return n, nil
}
