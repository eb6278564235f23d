package partition

import (
	"context"
	"fmt"

	"github.com/kafscale/kafscale/codec"
)

// maxDecompressed bounds the records of one batch decompressed for a timestamp search, so
// a hostile batch cannot inflate memory.
const maxDecompressed = 64 << 20

// OffsetForTimestamp finds the first offset whose record timestamp is >= ts, as Kafka's
// ListOffsets does, and that record's timestamp. found is false when no record qualifies.
func (l *Log) OffsetForTimestamp(ctx context.Context, ts int64) (offset, timestamp int64, found bool, err error) {
	l.mu.Lock()
	var start int64 = -1
	for _, e := range l.extents {
		if e.MaxTimestamp >= ts && e.LastOffset >= l.logStart {
			start = max(e.BaseOffset, l.logStart)
			break
		}
	}
	hw := l.hw
	l.mu.Unlock()
	if start < 0 {
		return -1, -1, false, nil
	}
	for off := start; off < hw; {
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
			if h.MaxTimestamp < ts {
				continue
			}
			o, t, ok, err := codec.FindOffsetByTimestamp(b, ts, maxDecompressed)
			if err != nil {
				return 0, 0, false, fmt.Errorf("cannot search batch at offset %d: %w", h.BaseOffset, err)
			}
			if ok {
				return o, t, true, nil
			}
		}
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the largest timestamp
// (ListOffsets MAX_TIMESTAMP, KIP-734); found is false for an empty log.
func (l *Log) MaxTimestamp(ctx context.Context) (offset, timestamp int64, found bool, err error) {
	l.mu.Lock()
	base, ts := l.maxTsBase, l.maxTs
	l.mu.Unlock()
	if base < 0 {
		return -1, -1, false, nil
	}
	batches, err := l.Read(ctx, base, 1)
	if err != nil || len(batches) == 0 {
		return -1, -1, false, err
	}
	o, t, ok, err := codec.FindOffsetByTimestamp(batches[0], ts, maxDecompressed)
	if err != nil {
		return 0, 0, false, fmt.Errorf("cannot search batch at offset %d: %w", base, err)
	}
	return o, t, ok, nil
}
