package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

var (
	mergedSegments = metrics.NewCounter(`kafscale_merge_segments_total`)
	mergedBytes    = metrics.NewCounter(`kafscale_merge_bytes_total`)
	mergeErrors    = metrics.NewCounter(`kafscale_merge_errors_total`)
	// Segments deleted because they lie wholly below their partition's log start
	// (DeleteRecords, retention), and failures to delete them.
	segmentsTrimmed = metrics.NewCounter(`kafscale_segments_deleted_below_log_start_total`)
	trimErrors      = metrics.NewCounter(`kafscale_segment_trim_errors_total`)
)

// mergeMinPieceDiv sets the smallest piece of a partition a merge window cuts to (about
// --merge-bytes over it, 8 MiB by default), and so, with --merge-batch-bytes, how many
// partitions one window merges (16 by default): cutting among more partitions would make
// segments, and so segment PUTs and etcd writes, smaller and more numerous.
const mergeMinPieceDiv = 8

// mergeReadAhead is how many of a merge window's reads are in flight at once.
const mergeReadAhead = 16

// mergeUploads is how many of a merge window's segments are built and uploaded at once:
// one after another, 16 partitions' uploads at S3's tens of milliseconds each took most
// of a scaled merge.age (docs/benchmarks.md, "Object-store cost at steady state").
const mergeUploads = 8

// mergeAll merges partitions' flush extents into segments (run every merge interval). It
// is the only writer of partitions' index prefixes and, with WriteCheckpoints under cpMu, of
// their checkpoints' chains. The partitions due are merged a time window of flush objects
// at a time (mergeWindow), each window's objects read once for all the partitions merging
// them (readMergeBatch), until none is due.
func (j *Jobs) mergeAll() {
	lps := j.host.Partitions()
	pending := lps
	for len(pending) > 0 && j.ctx.Err() == nil {
		var plans []mergePlan
		for _, lp := range pending {
			if pl, ok := j.planMerge(lp); ok {
				plans = append(plans, pl)
			}
		}
		batch, later := mergeWindow(plans, j.cfg.BatchBytes, j.cfg.SegmentBytes/mergeMinPieceDiv)
		pending = later
		data, errs := readMergeBatch(j.ctx, j.store, batch)
		merged := j.mergeWindowPlans(batch, data, errs)
		for i, pl := range batch {
			if err := errs[i]; err != nil {
				if j.ctx.Err() != nil {
					return
				}
				mergeErrors.Inc()
				j.log.Warn("cannot merge partition", "topic", pl.lp.Topic.Name, "partition", pl.lp.Index, "err", err)
				continue
			}
			if merged[i] {
				pending = append(pending, pl.lp)
			}
		}
	}
	for _, lp := range lps {
		if j.ctx.Err() != nil {
			return
		}
		if err := j.trimPartition(j.ctx, lp); err != nil && j.ctx.Err() == nil {
			trimErrors.Inc()
			j.log.Warn("cannot delete segments below the log start", "topic", lp.Topic.Name, "partition", lp.Index, "err", err)
		}
		if _, err := j.compactPartition(j.ctx, lp); err != nil && j.ctx.Err() == nil {
			compactionErrors.Inc()
			j.log.Warn("cannot compact partition", "topic", lp.Topic.Name, "partition", lp.Index, "err", err)
		}
	}
}

// mergeWindowPlans merges a window's plans, whose extents' bytes are data, mergeUploads at
// a time: each uploads its segment on its own, so on S3's latency a window's uploads
// overlap instead of queueing (their commits take cpMu one after another). A plan whose
// read failed (errs) is skipped; a failed merge's error replaces its nil in errs. It
// reports which plans wrote a segment.
func (j *Jobs) mergeWindowPlans(batch []mergePlan, data [][][]byte, errs []error) []bool {
	merged := make([]bool, len(batch))
	sem := make(chan struct{}, mergeUploads)
	var wg sync.WaitGroup
	for i, pl := range batch {
		if errs[i] != nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			merged[i], errs[i] = j.mergePartition(j.ctx, pl, data[i])
			data[i] = nil // its flush data can go once the other plans no longer share it
		}()
	}
	wg.Wait()
	return merged
}

// planMerge returns the partition's oldest flush extents when they are due to be merged:
// they reach SegmentBytes or the oldest is older than Age.
func (j *Jobs) planMerge(lp Partition) (mergePlan, bool) {
	l := lp.Log
	if !l.Leader() {
		return mergePlan{}, false
	}
	cands := l.MergeCandidates(j.cfg.SegmentBytes)
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
	if size < j.cfg.SegmentBytes && time.Since(oldest) < j.cfg.Age {
		return mergePlan{}, false
	}
	return mergePlan{lp: lp, cands: cands, bytes: size}, true
}

// mergePartition merges a plan's flush extents, whose bytes are data, into one segment. It
// uploads the segment, commits its key together with the checkpoint whose chains moved past
// the merged objects (one fenced transaction), and then swaps the index. It reports whether
// a segment was written.
func (j *Jobs) mergePartition(ctx context.Context, pl mergePlan, data [][]byte) (bool, error) {
	lp, cands := pl.lp, pl.cands
	l := lp.Log
	if !l.Leader() {
		return false, nil
	}
	id := lp.TopicID
	parts, objSize, footer, err := segment.BuildSegment(id, lp.Index, data, j.cfg.ChunkBytes)
	if err != nil {
		return false, err
	}
	key := segment.SegmentKey(id, lp.Index, time.Now())
	var dl UploadDeadline
	dl.starting()
	if err := j.store.Put(ctx, key, parts, objSize); err != nil && !errors.Is(err, objstore.ErrExists) {
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

	j.cpMu.Lock()
	defer j.cpMu.Unlock()
	_, _, epoch := l.Offsets()
	var remaining []partition.Extent
	for _, e := range l.Extents() {
		if !e.Segment && e.LastOffset > last.LastOffset {
			remaining = append(remaining, e)
		}
	}
	// The snapshot is current to the high watermark, past the merged range: segments carry
	// no producer-state deltas, so takeover must start its fold after them.
	cp, err := j.CheckpointOf(ctx, l, advanceChains(lp.State.cp.Chains, cands, remaining, j.nodeID, j.reg.Incarnation, epoch), &dl)
	if err != nil {
		return false, err
	}
	// The commit must land within gc.grace/2 of the segment's upload, or another broker's
	// GC may delete the segment first (a pause between upload and commit); past it the
	// merge is given up and redone with a new upload in a later round.
	cctx, cancel, err := dl.context(ctx, j.cfg.GCGrace)
	if err != nil {
		return false, fmt.Errorf("cannot commit segment %s: %w", key, err)
	}
	defer cancel()
	pk := meta.PartitionKey{TopicID: id, Partition: lp.Index}
	got, err := j.meta.CommitSegment(cctx, j.nodeID, j.host.FenceRev(), pk, seg, cp)
	if errors.Is(err, meta.ErrFenced) {
		st, ferr := j.host.RefreshFence(cctx)
		if ferr != nil {
			return false, ferr
		}
		if !leads(st, id, lp.Index, epoch) {
			return false, nil // moved or deleted meanwhile; the segment is an orphan for GC
		}
		got, err = j.meta.CommitSegment(cctx, j.nodeID, j.host.FenceRev(), pk, seg, cp)
	}
	if err != nil {
		return false, fmt.Errorf("cannot commit segment %s: %w", key, err)
	}
	if got.Key != key {
		// An earlier merge of the same range committed (its reply was lost): serve that
		// segment and its checkpoint; ours is an orphan for GC.
		f, err := segment.ReadFooterAt(ctx, j.store, got.Key, got.FooterPos, got.FooterLen)
		if err != nil {
			return false, fmt.Errorf("cannot read footer of segment %s committed earlier: %w", got.Key, err)
		}
		segExts = segExts[:0]
		for _, e := range f.Extents {
			segExts = append(segExts, partition.Extent{Key: got.Key, Extent: e, Segment: true})
		}
		if cp, err = j.meta.GetCheckpoint(ctx, id, lp.Index); err != nil {
			return false, err
		}
		key, objSize = got.Key, got.Size
	}
	lp.State.cp = cp
	if err := l.ReplaceMerged(cands, segExts); err != nil {
		return false, err
	}
	mergedSegments.Inc()
	mergedBytes.Add(int(objSize))
	j.log.Debug("merged segment", "topic", lp.Topic.Name, "partition", lp.Index, "key", key, "base", seg.BaseOffset, "last", seg.LastOffset, "bytes", objSize, "flush_extents", len(cands))
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
