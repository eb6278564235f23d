package lifecycle

import (
	"fmt"
	"time"

	"github.com/kafscale/kafscale/compact"
	"github.com/kafscale/kafscale/segment"
)

// Config holds the settings of merging, garbage collection and compaction.
type Config struct {
	// SegmentBytes is the target size of a merged segment (merge.bytes).
	SegmentBytes int64
	// Age merges a partition's flush extents older than this even when they are fewer than
	// SegmentBytes (merge.age), so idle partitions release old flush objects too.
	Age time.Duration
	// Interval is how often partitions are checked for merging.
	Interval time.Duration
	// ChunkBytes is the granularity of a segment's index: one ranged GET per chunk.
	ChunkBytes int64
	// GCInterval is how often unneeded objects/ entries and objects are deleted.
	GCInterval time.Duration
	// GCGrace is how old an unreferenced object must be before GC deletes it (gc.grace):
	// it protects objects uploaded but not yet committed.
	GCGrace time.Duration
	// BatchBytes bounds the flush data a merge holds in memory (merge.batch.bytes): the
	// partitions due are merged a time window of flush objects at a time, each window
	// holding at most this many bytes of their extents and read once.
	BatchBytes int64
	// CompactionBufferBytes bounds the key map of one compaction pass (Kafka's
	// log.cleaner.dedupe.buffer.size): compact.EntryBytes per key of the dirty segments.
	CompactionBufferBytes int64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes: 64 << 20,
		Age:          2 * time.Minute,
		Interval:     10 * time.Second,
		ChunkBytes:   segment.DefaultChunkBytes,
		// 128 MiB: a merge held one partition's extents before, up to --merge-bytes; a
		// window of 16 partitions (mergeMinPieceDiv) at 8 MiB each holds twice that. At 2
		// MiB/s over 16 partitions, the 240 MiB due every --merge-age make two windows.
		BatchBytes: 128 << 20,
		GCInterval: time.Minute,
		GCGrace:    10 * time.Minute,
		// 32 MiB: about 700,000 keys per pass (Kafka's cleaner has 128 MiB for all its threads).
		CompactionBufferBytes: 32 << 20,
	}
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.SegmentBytes <= 0:
		return fmt.Errorf("--merge-bytes must be >0 (set to %d)", c.SegmentBytes)
	case c.Age <= 0:
		return fmt.Errorf("--merge-age must be >0 (set to %s)", c.Age)
	case c.Interval <= 0:
		return fmt.Errorf("--merge-interval must be >0 (set to %s)", c.Interval)
	case c.ChunkBytes <= 0:
		return fmt.Errorf("--merge-chunk-bytes must be >0 (set to %d)", c.ChunkBytes)
	case c.BatchBytes <= 0:
		return fmt.Errorf("--merge-batch-bytes must be >0 (set to %d)", c.BatchBytes)
	case c.GCInterval <= 0:
		return fmt.Errorf("--gc-interval must be >0 (set to %s)", c.GCInterval)
	case c.GCGrace <= 0:
		return fmt.Errorf("--gc-grace must be >0 (set to %s)", c.GCGrace)
	case c.CompactionBufferBytes < compact.EntryBytes:
		return fmt.Errorf("--compaction-buffer-bytes must be at least %d (set to %d)", compact.EntryBytes, c.CompactionBufferBytes)
	}
	return nil
}
