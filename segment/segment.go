package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/kafscale/kafscale/producer"
)

// DefaultChunkBytes is the default granularity of a segment's index: a fetch of merged data
// reads one chunk of about this size with one ranged GET.
const DefaultChunkBytes = 1 << 20

// batch header offsets used to walk stored batches (record batch v2).
const (
	batchLengthEnd  = 12 // baseOffset int64, batchLength int32
	batchEpochEnd   = 16 // partitionLeaderEpoch int32
	batchMaxTsStart = 35 // after magic, crc, attributes, lastOffsetDelta, baseTimestamp
	batchProducerID = 43 // producerId int64, producerEpoch int16, baseSequence int32
	batchHeaderLen  = 61
)

// BuildSegment lays out one partition's stored batches (data: contiguous ranges in offset
// order, not copied) as a segment object: the bytes unchanged, then a footer with one
// extent per chunk of whole batches of about chunkBytes and one leader epoch, so the
// leader's index can find and read one chunk. Each chunk carries, as its producer-state
// delta, the idempotent producers' last batches within it, read from the batch headers, so
// that `kafscale fsck --rebuild` restores producer state from footers alone after the flush
// objects that held the deltas are gone. It returns the parts to upload, the object size
// and the footer (chunk extents with final positions).
func BuildSegment(topicID [16]byte, partition int32, data [][]byte, chunkBytes int64) ([][]byte, int64, Footer, error) {
	return buildSegment(topicID, partition, data, chunkBytes, false)
}

// BuildCompactedSegment is BuildSegment for the batches log compaction kept: offsets must
// increase but may skip (a compacted log has gaps, between chunks and inside them).
func BuildCompactedSegment(topicID [16]byte, partition int32, data [][]byte, chunkBytes int64) ([][]byte, int64, Footer, error) {
	return buildSegment(topicID, partition, data, chunkBytes, true)
}

func buildSegment(topicID [16]byte, partition int32, data [][]byte, chunkBytes int64, gaps bool) ([][]byte, int64, Footer, error) {
	follows := func(base int64, cur *Extent) bool {
		return base == cur.LastOffset+1 || gaps && base > cur.LastOffset
	}
	if chunkBytes <= 0 {
		chunkBytes = DefaultChunkBytes
	}
	var exts []Extent
	var pos int64
	var cur *Extent
	var producers producer.State // of the current chunk
	endChunk := func() {
		if cur != nil && len(producers) > 0 {
			cur.ProducerState = producer.AppendRecords(nil, producers.Records())
		}
		producers = producer.State{}
	}
	for _, r := range data {
		for len(r) > 0 {
			if len(r) < batchHeaderLen {
				return nil, 0, Footer{}, fmt.Errorf("cannot build segment: %d trailing bytes are not a batch: %w", len(r), ErrCorrupt)
			}
			size := int64(binary.BigEndian.Uint32(r[8:batchLengthEnd])) + batchLengthEnd
			if size < batchHeaderLen || size > int64(len(r)) {
				return nil, 0, Footer{}, fmt.Errorf("cannot build segment: batch length %d in %d bytes: %w", size, len(r), ErrCorrupt)
			}
			base := int64(binary.BigEndian.Uint64(r[0:8]))
			epoch := int32(binary.BigEndian.Uint32(r[batchLengthEnd:batchEpochEnd]))
			last := base + int64(int32(binary.BigEndian.Uint32(r[23:27])))
			maxTs := int64(binary.BigEndian.Uint64(r[batchMaxTsStart : batchMaxTsStart+8]))
			if cur == nil || cur.Len >= chunkBytes || cur.LeaderEpoch != epoch {
				if cur != nil && !follows(base, cur) {
					return nil, 0, Footer{}, fmt.Errorf("cannot build segment: batch at %d does not follow offset %d: %w", base, cur.LastOffset, ErrCorrupt)
				}
				endChunk()
				exts = append(exts, Extent{TopicID: topicID, Partition: partition, LeaderEpoch: epoch, BaseOffset: base, Pos: pos, MaxTimestamp: maxTs})
				cur = &exts[len(exts)-1]
			} else if !follows(base, cur) {
				return nil, 0, Footer{}, fmt.Errorf("cannot build segment: batch at %d does not follow offset %d: %w", base, cur.LastOffset, ErrCorrupt)
			}
			cur.LastOffset = last
			cur.Len += size
			cur.Batches++
			cur.MaxTimestamp = max(cur.MaxTimestamp, maxTs)
			if pid := int64(binary.BigEndian.Uint64(r[batchProducerID:])); pid >= 0 {
				firstSeq := int32(binary.BigEndian.Uint32(r[batchProducerID+10:]))
				producers.Apply(producer.Record{ProducerID: pid, Epoch: int16(binary.BigEndian.Uint16(r[batchProducerID+8:])),
					Batch:     producer.Batch{FirstSeq: firstSeq, LastSeq: firstSeq + int32(last-base), BaseOffset: base, LastOffset: last},
					Timestamp: maxTs})
			}
			pos += size
			r = r[size:]
		}
	}
	if len(exts) == 0 {
		return nil, 0, Footer{}, fmt.Errorf("cannot build an empty segment")
	}
	endChunk()
	var flags uint16
	if gaps {
		flags = FlagCompacted
	}
	footer := AppendFooterFlags(nil, exts, flags)
	parts := append(append([][]byte(nil), data...), footer)
	f, err := DecodeFooter(footer, pos+int64(len(footer)))
	if err != nil {
		return nil, 0, Footer{}, fmt.Errorf("BUG: cannot decode the footer just built: %w", err)
	}
	return parts, pos + int64(len(footer)), f, nil
}
