package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/compact"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

// MergeConfig holds the settings of merging and garbage collection.
type MergeConfig struct {
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

// DefaultMergeConfig returns the defaults.
func DefaultMergeConfig() MergeConfig {
	return MergeConfig{
		SegmentBytes: 64 << 20,
		Age:          2 * time.Minute,
		Interval:     10 * time.Second,
		ChunkBytes:   segment.DefaultChunkBytes,
		// 256 MiB: four full segments, or a round of 16 partitions merged by age at up to
		// 1 MiB/s each, read with one GET per flush object.
		BatchBytes: 256 << 20,
		GCInterval: time.Minute,
		GCGrace:    10 * time.Minute,
		// 32 MiB: about 700,000 keys per pass (Kafka's cleaner has 128 MiB for all its threads).
		CompactionBufferBytes: 32 << 20,
	}
}

// Validate reports the first bad setting, naming its flag.
func (c MergeConfig) Validate() error {
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

var (
	mergedSegments = metrics.NewCounter(`kafscale_merge_segments_total`)
	mergedBytes    = metrics.NewCounter(`kafscale_merge_bytes_total`)
	mergeErrors    = metrics.NewCounter(`kafscale_merge_errors_total`)
	// Segments deleted because they lie wholly below their partition's log start
	// (DeleteRecords, retention), and failures to delete them.
	segmentsTrimmed = metrics.NewCounter(`kafscale_segments_deleted_below_log_start_total`)
	trimErrors      = metrics.NewCounter(`kafscale_segment_trim_errors_total`)
)

// mergeReadAhead is how many of a merge batch's reads are in flight at once.
const mergeReadAhead = 16

type ledPartition struct {
	t  *topic
	p  int32
	ps *partState
}

func (b *Broker) ledPartitions() []ledPartition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []ledPartition
	for _, t := range b.topics {
		for p, ps := range t.parts {
			if ps != nil {
				out = append(out, ledPartition{t, int32(p), ps})
			}
		}
	}
	return out
}

// mergeAll merges partitions' flush extents into segments (run every merge interval). It
// is the only writer of partitions' index prefixes and, with writeCheckpoints under cpMu, of
// their checkpoints' chains. The partitions due are merged a time window of flush objects
// at a time (mergeWindow), each window's objects read once for all the partitions merging
// them (readMergeBatch), until none is due.
func (b *Broker) mergeAll() {
	lps := b.ledPartitions()
	pending := lps
	for len(pending) > 0 && b.ctx.Err() == nil {
		var plans []mergePlan
		for _, lp := range pending {
			if pl, ok := b.planMerge(lp); ok {
				plans = append(plans, pl)
			}
		}
		batch, later := mergeWindow(plans, b.cfg.Merge.BatchBytes)
		pending = later
		data, errs := readMergeBatch(b.ctx, b.store, batch)
		for i, pl := range batch {
			err := errs[i]
			var merged bool
			if err == nil {
				merged, err = b.mergePartition(b.ctx, pl, data[i])
			}
			data[i] = nil // its flush data can go once the other plans no longer share it
			if err != nil {
				if b.ctx.Err() != nil {
					return
				}
				mergeErrors.Inc()
				b.log.Warn("cannot merge partition", "topic", pl.lp.t.meta.Name, "partition", pl.lp.p, "err", err)
				continue
			}
			if merged {
				pending = append(pending, pl.lp)
			}
		}
	}
	for _, lp := range lps {
		if b.ctx.Err() != nil {
			return
		}
		if err := b.trimPartition(b.ctx, lp); err != nil && b.ctx.Err() == nil {
			trimErrors.Inc()
			b.log.Warn("cannot delete segments below the log start", "topic", lp.t.meta.Name, "partition", lp.p, "err", err)
		}
		if _, err := b.compactPartition(b.ctx, lp); err != nil && b.ctx.Err() == nil {
			compactionErrors.Inc()
			b.log.Warn("cannot compact partition", "topic", lp.t.meta.Name, "partition", lp.p, "err", err)
		}
	}
}

// planMerge returns the partition's oldest flush extents when they are due to be merged:
// they reach SegmentBytes or the oldest is older than Age.
func (b *Broker) planMerge(lp ledPartition) (mergePlan, bool) {
	l := lp.ps.log
	if !l.Leader() {
		return mergePlan{}, false
	}
	cands := l.MergeCandidates(b.cfg.Merge.SegmentBytes)
	if len(cands) == 0 {
		return mergePlan{}, false
	}
	var size int64
	oldest := time.Now()
	for _, c := range cands {
		size += c.Len
		if _, _, ts, err := segment.ParseFlushKey(c.Key); err == nil && ts.Before(oldest) {
			oldest = ts
		}
	}
	if size < b.cfg.Merge.SegmentBytes && time.Since(oldest) < b.cfg.Merge.Age {
		return mergePlan{}, false
	}
	return mergePlan{lp: lp, cands: cands, bytes: size}, true
}

// trimPartition deletes the segment keys of the partition wholly below its durable log
// start (the one its last written checkpoint holds: a takeover reading that checkpoint
// never looks for them) and drops them from the index; GC deletes the segment objects once
// they have been unreferenced for gc.grace. Segments straddling the log start stay, as
// Kafka keeps a log segment until all of it is below. It lists the partition's segments
// only when the log start moved since the last trim, or merging made a segment below it
// (of flush extents that were below it already).
func (b *Broker) trimPartition(ctx context.Context, lp ledPartition) error {
	if !lp.ps.log.Leader() {
		return nil
	}
	b.cpMu.Lock()
	start := lp.ps.cp.GetLogStart()
	b.cpMu.Unlock()
	if start <= lp.ps.trimmed && !lp.ps.log.SegmentBelow(start) {
		return nil
	}
	segs, err := b.meta.ListSegments(ctx, lp.t.id, lp.p)
	if err != nil {
		return err
	}
	var below []int64
	for _, s := range segs {
		if s.LastOffset < start {
			below = append(below, s.LastOffset)
		}
	}
	if len(below) > 0 {
		pk := meta.PartitionKey{TopicID: lp.t.id, Partition: lp.p}
		if err := b.meta.DeleteSegments(ctx, b.cfg.NodeID, b.fenceRev.Load(), pk, below); err != nil {
			if errors.Is(err, meta.ErrFenced) {
				_, _ = b.refreshFence(ctx)
			}
			return err
		}
		segmentsTrimmed.Add(len(below))
	}
	lp.ps.log.DropSegmentsBelow(start)
	lp.ps.trimmed = start
	return nil
}

// mergePartition merges a plan's flush extents, whose bytes are data, into one segment. It
// uploads the segment, commits its key together with the checkpoint whose chains moved past
// the merged objects (one fenced transaction), and then swaps the index. It reports whether
// a segment was written.
func (b *Broker) mergePartition(ctx context.Context, pl mergePlan, data [][]byte) (bool, error) {
	lp, cands := pl.lp, pl.cands
	l := lp.ps.log
	if !l.Leader() {
		return false, nil
	}
	id := lp.t.id
	parts, objSize, footer, err := segment.BuildSegment(id, lp.p, data, b.cfg.Merge.ChunkBytes)
	if err != nil {
		return false, err
	}
	key := segment.SegmentKey(id, lp.p, time.Now())
	var dl uploadDeadline
	dl.starting()
	if err := b.store.Put(ctx, key, parts, objSize); err != nil && !errors.Is(err, objstore.ErrExists) {
		return false, fmt.Errorf("cannot upload segment %s: %w", key, err)
	}
	first, last := footer.Extents[0], footer.Extents[len(footer.Extents)-1]
	seg := &metapb.Segment{Key: key, BaseOffset: first.BaseOffset, LastOffset: last.LastOffset, Size: objSize,
		FooterPos: footer.FooterPos, FooterLen: footer.FooterLen, CreatedUnixMs: time.Now().UnixMilli()}
	for _, e := range footer.Extents {
		seg.MaxTimestamp = max(seg.MaxTimestamp, e.MaxTimestamp)
	}
	segExts := make([]partition.Extent, len(footer.Extents))
	for i, e := range footer.Extents {
		e.ProducerState = nil // for fsck --rebuild only; the index keeps no copy
		segExts[i] = partition.Extent{Key: key, Extent: e, Segment: true}
	}

	b.cpMu.Lock()
	defer b.cpMu.Unlock()
	_, _, epoch := l.Offsets()
	var remaining []partition.Extent
	for _, e := range l.Extents() {
		if !e.Segment && e.LastOffset > last.LastOffset {
			remaining = append(remaining, e)
		}
	}
	// The snapshot is current to the high watermark, past the merged range: segments carry
	// no producer-state deltas, so takeover must start its fold after them.
	cp, err := b.checkpointOf(ctx, l, advanceChains(lp.ps.cp.Chains, cands, remaining, b.cfg.NodeID, b.reg.Incarnation, epoch), &dl)
	if err != nil {
		return false, err
	}
	// The commit must land within gc.grace/2 of the segment's upload, or another broker's
	// GC may delete the segment first (a pause between upload and commit); past it the
	// merge is given up and redone with a new upload in a later round.
	cctx, cancel, err := dl.context(ctx, b.cfg.Merge.GCGrace)
	if err != nil {
		return false, fmt.Errorf("cannot commit segment %s: %w", key, err)
	}
	defer cancel()
	pk := meta.PartitionKey{TopicID: id, Partition: lp.p}
	got, err := b.meta.CommitSegment(cctx, b.cfg.NodeID, b.fenceRev.Load(), pk, seg, cp)
	if errors.Is(err, meta.ErrFenced) {
		st, ferr := b.refreshFence(cctx)
		if ferr != nil {
			return false, ferr
		}
		if !leads(st, id, lp.p, epoch) {
			return false, nil // moved or deleted meanwhile; the segment is an orphan for GC
		}
		got, err = b.meta.CommitSegment(cctx, b.cfg.NodeID, b.fenceRev.Load(), pk, seg, cp)
	}
	if err != nil {
		return false, fmt.Errorf("cannot commit segment %s: %w", key, err)
	}
	if got.Key != key {
		// An earlier merge of the same range committed (its reply was lost): serve that
		// segment and its checkpoint; ours is an orphan for GC.
		f, err := segment.ReadFooterAt(ctx, b.store, got.Key, got.FooterPos, got.FooterLen)
		if err != nil {
			return false, fmt.Errorf("cannot read footer of segment %s committed earlier: %w", got.Key, err)
		}
		segExts = segExts[:0]
		for _, e := range f.Extents {
			segExts = append(segExts, partition.Extent{Key: got.Key, Extent: e, Segment: true})
		}
		if cp, err = b.meta.GetCheckpoint(ctx, id, lp.p); err != nil {
			return false, err
		}
		key, objSize = got.Key, got.Size
	}
	lp.ps.cp = cp
	if err := l.ReplaceMerged(cands, segExts); err != nil {
		return false, err
	}
	mergedSegments.Inc()
	mergedBytes.Add(int(objSize))
	b.log.Debug("merged segment", "topic", lp.t.meta.Name, "partition", lp.p, "key", key, "base", seg.BaseOffset, "last", seg.LastOffset, "bytes", objSize, "flush_extents", len(cands))
	return true, nil
}

// advanceChains moves a checkpoint's chain positions past merged flush extents. A chain
// with unmerged extents left starts at the first of them; this leadership's own chain with
// none left starts after the last merged object (objects committed later have larger
// sequence numbers); any other chain with none left is dropped, since takeover would fold
// nothing from it.
func advanceChains(chains []*metapb.Chain, merged, remaining []partition.Extent, self int32, inc uint64, epoch int32) []*metapb.Chain {
	type chainKey struct {
		broker int32
		inc    uint64
		epoch  int32
	}
	minRem := make(map[chainKey]uint64)
	for _, e := range remaining {
		k := chainKey{e.Broker, e.Incarnation, e.LeaderEpoch}
		if s, ok := minRem[k]; !ok || e.Seq < s {
			minRem[k] = e.Seq
		}
	}
	maxMerged := make(map[chainKey]uint64)
	for _, e := range merged {
		k := chainKey{e.Broker, e.Incarnation, e.LeaderEpoch}
		if s, ok := maxMerged[k]; !ok || e.Seq > s {
			maxMerged[k] = e.Seq
		}
	}
	var out []*metapb.Chain
	for _, ch := range chains {
		k := chainKey{ch.BrokerId, ch.Incarnation, ch.LeaderEpoch}
		nc := &metapb.Chain{BrokerId: ch.BrokerId, Incarnation: ch.Incarnation, FirstSeq: ch.FirstSeq, LeaderEpoch: ch.LeaderEpoch}
		own := ch.BrokerId == self && ch.Incarnation == inc && ch.LeaderEpoch == epoch
		if s, ok := minRem[k]; ok {
			nc.FirstSeq = max(nc.FirstSeq, s)
		} else if own {
			if s, ok := maxMerged[k]; ok {
				nc.FirstSeq = max(nc.FirstSeq, s+1)
			}
		} else {
			continue
		}
		out = append(out, nc)
	}
	return out
}

// leads reports whether the fence state still assigns the partition at epoch to us.
func leads(st *meta.FenceState, id [16]byte, p, epoch int32) bool {
	for _, r := range st.Assignment.GetPartitions() {
		if [16]byte(r.TopicId) == id && r.Partition == p && r.LeaderEpoch == epoch {
			return true
		}
	}
	return false
}
