package compact

import (
	"fmt"

	"github.com/kafscale/kafscale/codec"
)

// Rule says what FilterSegment keeps of a record: a keyed record that is the latest of its
// key in Map (or whose key Map does not hold: a later record of it would be in Map, since
// Map covers everything after the records being filtered), and of those a tombstone (null
// value) only while DropTombstones is false. Keyless records are removed, as Kafka's
// cleaner removes them (a compacted topic refuses them at produce).
type Rule struct {
	Map             *KeyMap
	DropTombstones  bool
	MaxDecompressed int
}

// Stats counts what a filter read, kept and removed.
type Stats struct {
	Records        int64 // records read
	Kept           int64 // records kept
	Superseded     int64 // removed: a later record has the same key
	Tombstones     int64 // removed: tombstones past delete.retention.ms
	Keyless        int64 // removed: records without a key
	TombstonesKept int64 // tombstones kept (their segment keeps its own horizon)
	BytesIn        int64
	BytesOut       int64
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Kept += o.Kept
	s.Superseded += o.Superseded
	s.Tombstones += o.Tombstones
	s.Keyless += o.Keyless
	s.TombstonesKept += o.TombstonesKept
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
}

// Removed returns the records removed.
func (s Stats) Removed() int64 { return s.Superseded + s.Tombstones + s.Keyless }

// FilterSegment appends to dst the batches of data (a segment's data region: whole record
// batches in offset order) that keep at least one record under rule, each rebuilt with only
// the records kept (codec.RebuildBatch: offsets, timestamps and producer fields unchanged,
// so a compacted log has offset gaps, as Kafka's). A batch keeping all its records is copied
// unchanged, and a control batch is always kept. The last batch is always kept, empty if
// none of its records is, so that the segment still ends at its last offset: the log end
// (the next offset to assign after a takeover) is derived from it.
func FilterSegment(dst, data []byte, rule Rule) ([]byte, Stats, error) {
	var st Stats
	st.BytesIn = int64(len(data))
	start := len(dst)
	var raw []byte
	for len(data) > 0 {
		batch, rest, err := codec.NextBatch(data)
		if err != nil {
			return dst, st, err
		}
		data = rest
		last := len(data) == 0
		h, err := codec.ParseBatchHeader(batch)
		if err != nil {
			return dst, st, err
		}
		if h.IsControl() {
			dst = append(dst, batch...)
			continue
		}
		raw = raw[:0]
		var kept int32
		err = codec.ForEachRawRecord(batch, rule.MaxDecompressed, func(r *codec.Record, enc []byte) bool {
			st.Records++
			switch latest, ok := rule.Map.Latest(r.Key); {
			case r.Key == nil:
				st.Keyless++
				return true
			case ok && latest > r.Offset:
				st.Superseded++
				return true
			case r.Value == nil && rule.DropTombstones:
				st.Tombstones++
				return true
			case r.Value == nil:
				st.TombstonesKept++
			}
			kept++
			raw = append(raw, enc...)
			return true
		})
		if err != nil {
			return dst, st, fmt.Errorf("cannot filter records of batch at offset %d: %w", h.BaseOffset, err)
		}
		st.Kept += int64(kept)
		switch {
		case kept == h.NumRecords:
			dst = append(dst, batch...)
		case kept > 0 || last:
			if dst, err = codec.RebuildBatch(dst, batch, raw, kept); err != nil {
				return dst, st, err
			}
		}
	}
	st.BytesOut = int64(len(dst) - start)
	return dst, st, nil
}
