// Package producer holds idempotent-producer state for one partition: per producer id, its
// epoch and the sequence ranges and offsets of its last five batches, as Apache Kafka keeps
// them. The same binary record format serves as the per-extent delta in flush-object
// footers and as the checkpoint snapshot, so takeover rebuilds the state by folding a
// snapshot and then the deltas after it; folding is idempotent.
package producer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// MaxBatches is how many recent batches per producer are kept for duplicate detection
// (Kafka's max.in.flight.requests.per.connection limit for idempotence).
const MaxBatches = 5

// Batch is one committed (or pending) batch of a producer.
type Batch struct {
	FirstSeq, LastSeq      int32
	BaseOffset, LastOffset int64
}

// Entry is the state of one producer id.
type Entry struct {
	ProducerID    int64
	Epoch         int16
	Batches       []Batch // oldest first, at most MaxBatches
	LastTimestamp int64   // max timestamp of its last batch (producer expiration)
}

// LastSeq returns the last sequence written, or -1 with no batch.
func (e *Entry) LastSeq() int32 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// Record is one batch of one producer: the unit of deltas and snapshots.
type Record struct {
	ProducerID int64
	Epoch      int16
	Batch
	Timestamp int64
}

// State maps producer ids to their entries. Not safe for concurrent use.
type State map[int64]*Entry

// Apply folds one committed batch into the state. A newer epoch starts the producer afresh;
// a record already present (same epoch and sequence range) or older than the entry's epoch
// changes nothing, which makes folding idempotent.
func (s State) Apply(r Record) {
	e := s[r.ProducerID]
	if e == nil {
		e = &Entry{ProducerID: r.ProducerID, Epoch: r.Epoch}
		s[r.ProducerID] = e
	}
	switch {
	case r.Epoch < e.Epoch:
		return
	case r.Epoch > e.Epoch:
		e.Epoch, e.Batches = r.Epoch, nil
	}
	for _, b := range e.Batches {
		if b.FirstSeq == r.FirstSeq && b.LastSeq == r.LastSeq {
			return
		}
	}
	e.Batches = append(e.Batches, r.Batch)
	if len(e.Batches) > MaxBatches {
		e.Batches = append(e.Batches[:0], e.Batches[len(e.Batches)-MaxBatches:]...)
	}
	e.LastTimestamp = max(e.LastTimestamp, r.Timestamp)
}

// Expire removes producers whose last timestamp is older than now-ttl
// (producer.id.expiration.ms).
func (s State) Expire(nowMs, ttlMs int64) {
	for id, e := range s {
		if e.LastTimestamp < nowMs-ttlMs {
			delete(s, id)
		}
	}
}

// Records flattens the state (producers in id order, batches oldest first): folding them
// into an empty State rebuilds it.
func (s State) Records() []Record {
	ids := make([]int64, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []Record
	for _, id := range ids {
		e := s[id]
		for _, b := range e.Batches {
			out = append(out, Record{ProducerID: id, Epoch: e.Epoch, Batch: b, Timestamp: e.LastTimestamp})
		}
	}
	return out
}

// recordLen is the encoded size of one Record.
const recordLen = 8 + 2 + 4 + 4 + 8 + 8 + 8

// formatVersion prefixes every encoding, so the format can change later.
const formatVersion = 1

// ErrCorrupt is returned for bytes that are not an encoding of records.
var ErrCorrupt = errors.New("corrupt producer state")

// AppendRecords appends the encoding of records to dst: a version byte, a count, then
// fixed-size big-endian records.
func AppendRecords(dst []byte, records []Record) []byte {
	dst = append(dst, formatVersion)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(records)))
	for _, r := range records {
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.ProducerID))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.Epoch))
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.FirstSeq))
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.LastSeq))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.BaseOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.LastOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.Timestamp))
	}
	return dst
}

// DecodeRecords decodes AppendRecords' output. Empty input is no records.
func DecodeRecords(b []byte) ([]Record, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 5 || b[0] != formatVersion {
		return nil, fmt.Errorf("%w: %d bytes, version %d", ErrCorrupt, len(b), b[0])
	}
	n := binary.BigEndian.Uint32(b[1:5])
	b = b[5:]
	if uint64(n)*recordLen != uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d records in %d bytes", ErrCorrupt, n, len(b))
	}
	out := make([]Record, n)
	for i := range out {
		r := &out[i]
		r.ProducerID = int64(binary.BigEndian.Uint64(b[0:8]))
		r.Epoch = int16(binary.BigEndian.Uint16(b[8:10]))
		r.FirstSeq = int32(binary.BigEndian.Uint32(b[10:14]))
		r.LastSeq = int32(binary.BigEndian.Uint32(b[14:18]))
		r.BaseOffset = int64(binary.BigEndian.Uint64(b[18:26]))
		r.LastOffset = int64(binary.BigEndian.Uint64(b[26:34]))
		r.Timestamp = int64(binary.BigEndian.Uint64(b[34:42]))
		b = b[recordLen:]
	}
	return out, nil
}

// NextSeq returns the sequence that follows seq (sequences wrap at math.MaxInt32).
func NextSeq(seq int32) int32 {
	if seq == math.MaxInt32 {
		return 0
	}
	return seq + 1
}

// LastSeqOf returns the last sequence of a batch of n records starting at first.
func LastSeqOf(first int32, lastOffsetDelta int32) int32 {
	return int32((int64(first) + int64(lastOffsetDelta)) % (math.MaxInt32 + 1))
}
