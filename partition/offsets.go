package partition

import (
	"context"
	"fmt"

	"github.com/kafscale/kafscale/codec"
)

// OffsetForTimestamp finds the first offset at or after the log start whose record
// timestamp is >= ts, as Kafka's ListOffsets does, and that record's timestamp. found is
// false when no record qualifies.
func (l *Log) OffsetForTimestamp(ctx context.Context, ts int64) (offset, timestamp int64, found bool, err error) {
	l.mu.Lock()
	var start int64 = -1
	for _, e := range l.extents {
		if e.MaxTimestamp >= ts && e.LastOffset >= l.logStart {
			start = max(e.BaseOffset, l.logStart)
			break
		}
	}
	logStart, hw := l.logStart, l.hw
	l.mu.Unlock()
	if start < 0 {
		return -1, -1, false, nil
	}
	return l.scanFor(ctx, start, hw, func(off, t int64) bool {
		return off >= logStart && t >= ts
	}, func(h *codec.BatchHeader) bool { return h.MaxTimestamp >= ts })
}

// MaxTimestamp returns the offset and timestamp of the first record with the largest
// timestamp (ListOffsets MAX_TIMESTAMP, KIP-734); found is false for an empty log.
func (l *Log) MaxTimestamp(ctx context.Context) (offset, timestamp int64, found bool, err error) {
	l.mu.Lock()
	from, ts, hw, logStart := l.maxTsBase, l.maxTs, l.hw, l.logStart
	l.mu.Unlock()
	if from < 0 {
		return -1, -1, false, nil
	}
	return l.scanFor(ctx, max(from, logStart), hw, func(off, t int64) bool {
		return off >= logStart && t == ts
	}, func(h *codec.BatchHeader) bool { return h.MaxTimestamp == ts })
}

// scanFor reads batches from offset from up to hw and returns the first record that match
// accepts, decoding only batches whose header may hold one (batchMay). Records are streamed
// (codec.ScanRecords), so a search holds a small window, not a decompressed batch; produce
// validated them against a bound at most codec.MaxDecompressedBatch.
func (l *Log) scanFor(ctx context.Context, from, hw int64, match func(offset, timestamp int64) bool, batchMay func(*codec.BatchHeader) bool) (int64, int64, bool, error) {
	for off := from; off < hw; {
		batches, err := l.Read(ctx, off, 1<<20)
		if err != nil {
			return 0, 0, false, err
		}
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			h, err := codec.ParseBatchHeader(b)
			if err != nil {
				return 0, 0, false, fmt.Errorf("BUG: cannot parse stored batch: %w", err)
			}
			off = h.LastOffset() + 1
			if !batchMay(&h) {
				continue
			}
			var o, t int64
			found := false
			err = codec.ScanRecords(b, codec.MaxDecompressedBatch, func(off, ts int64) bool {
				if match(off, ts) {
					o, t, found = off, ts, true
					return false
				}
				return true
			})
			if err != nil {
				return 0, 0, false, fmt.Errorf("cannot search batch at offset %d: %w", h.BaseOffset, err)
			}
			if found {
				return o, t, true, nil
			}
		}
	}
	return -1, -1, false, nil
}
