package lifecycle

// Log compaction (issue 13, acceptance 3; docs/compaction.md). In the merging goroutine,
// after merging and trimming, each partition this broker leads whose topic's
// cleanup.policy includes compact is checked: its merged segments are the log Kafka's
// cleaner works on (the unmerged flush extents are the active tail, never compacted).
// Segments never compacted are dirty; when the dirty ones old enough for
// min.compaction.lag.ms make up min.cleanable.dirty.ratio of the log, or one is older than
// max.compaction.lag.ms, or a compacted segment holds tombstones past delete.retention.ms,
// the broker maps each key of the dirty segments to its latest offset (compact.KeyMap,
// bounded by --compaction-buffer-bytes), rewrites every segment from the log start through
// the last one mapped keeping what compact.FilterSegment keeps, and commits the results in
// offset order, each with one fenced transaction (meta.ReplaceSegments). Replaced segment
// objects are GC's once unreferenced for gc.grace.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/compact"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

var (
	compactionRuns      = metrics.NewCounter(`kafscale_compaction_runs_total`)
	compactionErrors    = metrics.NewCounter(`kafscale_compaction_errors_total`)
	compactionMapFull   = metrics.NewCounter(`kafscale_compaction_key_map_full_total`)
	compactionGets      = metrics.NewCounter(`kafscale_compaction_get_requests_total`)
	compactionGetBytes  = metrics.NewCounter(`kafscale_compaction_get_bytes_total`)
	compactionPuts      = metrics.NewCounter(`kafscale_compaction_put_requests_total`)
	compactionPutBytes  = metrics.NewCounter(`kafscale_compaction_put_bytes_total`)
	compactionRewritten = metrics.NewCounter(`kafscale_compaction_segments_replaced_total`)
	compactionRemoved   = metrics.NewCounter(`kafscale_compaction_records_removed_total`)
	compactionKept      = metrics.NewCounter(`kafscale_compaction_records_kept_total`)
)

// maxCompactionGroup bounds how many segments one compacted segment replaces (one etcd
// transaction deletes all but one of their keys).
const maxCompactionGroup = 64

// compaction holds a topic's compaction settings.
type compaction struct {
	compact           bool
	deleteRetentionMs int64
	minLagMs          int64
	maxLagMs          int64
	minDirtyRatio     float64
}

// Compacted reports whether the topic's cleanup.policy includes compact (its records need
// keys, as Kafka's LogValidator demands).
func Compacted(t *metapb.Topic) bool {
	v, ok := t.GetConfigs()["cleanup.policy"]
	return ok && strings.Contains(v, "compact")
}

// compactionOf reads a topic's compaction settings (validated when they were set).
func (j *Jobs) compactionOf(t *metapb.Topic) compaction {
	long := func(name string) int64 {
		v, def := j.host.TopicConfig(t, name)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			n, _ = strconv.ParseInt(def, 10, 64)
		}
		return n
	}
	v, _ := j.host.TopicConfig(t, "min.cleanable.dirty.ratio")
	ratio, err := strconv.ParseFloat(v, 64)
	if err != nil {
		ratio = 0.5
	}
	return compaction{
		compact:           Compacted(t),
		deleteRetentionMs: long("delete.retention.ms"),
		minLagMs:          long("min.compaction.lag.ms"),
		maxLagMs:          long("max.compaction.lag.ms"),
		minDirtyRatio:     ratio,
	}
}

// compactionPlan is what one look at a partition's segments decided.
type compactionPlan struct {
	firstDirty int // segments before it are compacted
	dirtyEnd   int // segments [firstDirty, dirtyEnd) may be compacted now (min.compaction.lag.ms)
	run        bool
}

// planCompaction decides whether to compact segs (the partition's live segments, in offset
// order) now, as Kafka's cleaner chooses a log: its cleanable dirty share reaches
// min.cleanable.dirty.ratio, or its oldest dirty segment is older than
// max.compaction.lag.ms, or a compacted segment holds tombstones past delete.retention.ms.
func planCompaction(segs []*metapb.Segment, c compaction, nowMs int64) compactionPlan {
	var p compactionPlan
	for p.firstDirty < len(segs) && segs[p.firstDirty].CompactedUnixMs > 0 {
		p.firstDirty++
	}
	p.dirtyEnd = p.firstDirty
	for p.dirtyEnd < len(segs) && segs[p.dirtyEnd].CompactedUnixMs == 0 && segs[p.dirtyEnd].MaxTimestamp <= nowMs-c.minLagMs {
		p.dirtyEnd++
	}
	var clean, dirty int64
	for _, s := range segs[:p.firstDirty] {
		clean += s.Size
	}
	p.run = hasExpiredTombstones(segs[:p.firstDirty], c, nowMs)
	for _, s := range segs[p.firstDirty:p.dirtyEnd] {
		dirty += s.Size
	}
	if dirty > 0 {
		if float64(dirty) >= c.minDirtyRatio*float64(clean+dirty) {
			p.run = true
		}
		if first := segs[p.firstDirty]; c.maxLagMs < nowMs && first.MaxTimestamp < nowMs-c.maxLagMs {
			p.run = true
		}
	}
	return p
}

// compactPartition compacts one partition when planCompaction says so. It reports whether
// it replaced or marked any segment.
func (j *Jobs) compactPartition(ctx context.Context, lp Partition) (bool, error) {
	c := j.compactionOf(lp.Topic)
	l := lp.Log
	if !c.compact || !l.Leader() {
		return false, nil
	}
	segs, err := j.meta.ListSegments(ctx, lp.TopicID, lp.Index)
	if err != nil {
		return false, err
	}
	logStart, _, _ := l.Offsets()
	i := 0
	for i < len(segs) && segs[i].LastOffset < logStart {
		i++ // below the log start: trimPartition deletes them
	}
	segs = segs[i:]
	now := time.Now()
	plan := planCompaction(segs, c, now.UnixMilli())
	if !plan.run {
		return false, nil
	}
	compactionRuns.Inc()
	maxDecompressed := codec.DecompressedLimit(lp.MaxMessageBytes)

	// Map the keys of the cleanable dirty segments, as many whole segments as fit.
	keys := compact.NewKeyMap(j.cfg.CompactionBufferBytes)
	mapped := plan.firstDirty
	for _, s := range segs[plan.firstDirty:plan.dirtyEnd] {
		data, err := j.readSegmentData(ctx, s)
		if err != nil {
			return false, err
		}
		full := false
		for len(data) > 0 && !full {
			batch, rest, err := codec.NextBatch(data)
			if err != nil {
				return false, fmt.Errorf("cannot walk segment %s: %w", s.Key, err)
			}
			data = rest
			if err := keys.AddBatch(batch, maxDecompressed); errors.Is(err, compact.ErrFull) {
				full = true
			} else if err != nil {
				return false, fmt.Errorf("cannot map keys of segment %s: %w", s.Key, err)
			}
		}
		if full {
			compactionMapFull.Inc()
			j.log.Warn("compaction key map is full: compacting the segments mapped so far", "topic", lp.Topic.Name, "partition", lp.Index,
				"keys", keys.Len(), "segments_mapped", mapped-plan.firstDirty, "compaction_buffer_bytes", j.cfg.CompactionBufferBytes)
			break
		}
		mapped++
	}
	if mapped == plan.firstDirty && plan.dirtyEnd > plan.firstDirty && !hasExpiredTombstones(segs[:plan.firstDirty], c, now.UnixMilli()) {
		return false, fmt.Errorf("the keys of one segment (%s) do not fit in --compaction-buffer-bytes %d (%d keys)", segs[plan.firstDirty].Key, j.cfg.CompactionBufferBytes, keys.MaxEntries())
	}

	// Rewrite the segments from the log start through the last one mapped, in offset order.
	w := compactionWriter{j: j, lp: lp, now: now}
	rule := compact.Rule{Map: keys, MaxDecompressed: maxDecompressed}
	for _, s := range segs[:mapped] {
		data, err := j.readSegmentData(ctx, s)
		if err != nil {
			return w.changed, err
		}
		rule.DropTombstones = s.CompactedUnixMs > 0 && now.UnixMilli()-s.CompactedUnixMs >= c.deleteRetentionMs
		out, st, err := compact.FilterSegment(nil, data, rule)
		if err != nil {
			return w.changed, fmt.Errorf("cannot compact segment %s: %w", s.Key, err)
		}
		compactionRemoved.Add(int(st.Removed()))
		compactionKept.Add(int(st.Kept))
		if err := w.add(ctx, s, out, st); err != nil {
			return w.changed, err
		}
	}
	return w.changed, w.flush(ctx)
}

func hasExpiredTombstones(segs []*metapb.Segment, c compaction, nowMs int64) bool {
	for _, s := range segs {
		if s.Tombstones && nowMs-s.CompactedUnixMs >= c.deleteRetentionMs {
			return true
		}
	}
	return false
}

// readSegmentData reads a segment's data region (its batches) with one GET.
func (j *Jobs) readSegmentData(ctx context.Context, s *metapb.Segment) ([]byte, error) {
	data, err := j.store.GetRange(ctx, s.Key, 0, s.FooterPos)
	if err != nil {
		return nil, fmt.Errorf("cannot read segment %s: %w", s.Key, err)
	}
	compactionGets.Inc()
	compactionGetBytes.Add(len(data))
	return data, nil
}

// compactionWriter groups compacted segments and commits them in offset order. Consecutive
// outputs without tombstones are grouped up to merge.bytes (Kafka's cleaner groups segments
// by size too), so a compacted log does not keep one small segment per merge; a segment
// still holding tombstones stays alone, keeping its compaction time, from which its
// tombstones' delete.retention.ms counts.
type compactionWriter struct {
	j       *Jobs
	lp      Partition
	now     time.Time
	inputs  []*metapb.Segment
	data    []byte
	tombs   bool
	changed bool // some segment was replaced or marked
	rewrite bool // the group's bytes differ from its single input's
}

func (w *compactionWriter) add(ctx context.Context, s *metapb.Segment, out []byte, st compact.Stats) error {
	tombs := st.TombstonesKept > 0
	fits := len(w.inputs) > 0 && !w.tombs && !tombs && len(w.inputs) < maxCompactionGroup &&
		int64(len(w.data)+len(out)) <= w.j.cfg.SegmentBytes
	if !fits {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	if len(w.inputs) > 0 {
		w.rewrite = true
	} else {
		w.rewrite = st.BytesOut != st.BytesIn
	}
	w.inputs = append(w.inputs, s)
	w.data = append(w.data, out...)
	w.tombs = w.tombs || tombs
	return nil
}

// flush commits the group: a new segment object replacing its inputs, or, for a single
// segment compaction left as it was, only the mark that it is compacted.
func (w *compactionWriter) flush(ctx context.Context) error {
	if len(w.inputs) == 0 {
		return nil
	}
	defer func() { w.inputs, w.data, w.tombs, w.rewrite = nil, nil, false, false }()
	j, lp := w.j, w.lp
	pk := meta.PartitionKey{TopicID: lp.TopicID, Partition: lp.Index}
	first, last := w.inputs[0], w.inputs[len(w.inputs)-1]
	compactedAt := w.now.UnixMilli()
	if len(w.inputs) == 1 && first.CompactedUnixMs > 0 {
		compactedAt = first.CompactedUnixMs // its tombstones' horizon stays
	}
	if !w.rewrite {
		if first.CompactedUnixMs > 0 && first.Tombstones == w.tombs {
			return nil
		}
		marked := &metapb.Segment{Key: first.Key, BaseOffset: first.BaseOffset, LastOffset: first.LastOffset, Size: first.Size,
			FooterPos: first.FooterPos, FooterLen: first.FooterLen, MaxTimestamp: first.MaxTimestamp,
			CreatedUnixMs: first.CreatedUnixMs, CompactedUnixMs: compactedAt, Tombstones: w.tombs}
		if err := w.commit(ctx, pk, []*metapb.Segment{first}, marked); err != nil {
			return err
		}
		w.changed = true
		return nil
	}
	parts, size, footer, err := segment.BuildCompactedSegment(lp.TopicID, lp.Index, [][]byte{w.data}, j.cfg.ChunkBytes)
	if err != nil {
		return fmt.Errorf("cannot build compacted segment of %s-%d: %w", lp.Topic.Name, lp.Index, err)
	}
	if fe := footer.Extents; fe[0].BaseOffset < first.BaseOffset || fe[len(fe)-1].LastOffset != last.LastOffset {
		return fmt.Errorf("BUG: compacted segment of %s-%d holds %d-%d, replacing %d-%d", lp.Topic.Name, lp.Index,
			fe[0].BaseOffset, fe[len(fe)-1].LastOffset, first.BaseOffset, last.LastOffset)
	}
	key := segment.SegmentKey(lp.TopicID, lp.Index, time.Now())
	var dl UploadDeadline
	dl.starting()
	if err := j.store.Put(ctx, key, parts, size); err != nil {
		return fmt.Errorf("cannot upload compacted segment %s: %w", key, err)
	}
	compactionPuts.Inc()
	compactionPutBytes.Add(int(size))
	seg := &metapb.Segment{Key: key, BaseOffset: first.BaseOffset, LastOffset: last.LastOffset, Size: size,
		FooterPos: footer.FooterPos, FooterLen: footer.FooterLen, CreatedUnixMs: time.Now().UnixMilli(),
		CompactedUnixMs: compactedAt, Tombstones: w.tombs}
	for _, in := range w.inputs {
		seg.MaxTimestamp = max(seg.MaxTimestamp, in.MaxTimestamp)
	}
	// As a merge: the commit must land within gc.grace/2 of the upload, or GC elsewhere may
	// have deleted the new object as an orphan.
	cctx, cancel, err := dl.context(ctx, j.cfg.GCGrace)
	if err != nil {
		return fmt.Errorf("cannot commit compacted segment %s: %w", key, err)
	}
	defer cancel()
	if err := w.commit(cctx, pk, w.inputs, seg); err != nil {
		return err
	}
	exts := make([]partition.Extent, len(footer.Extents))
	for i, e := range footer.Extents {
		exts[i] = partition.Extent{Key: key, Extent: e, Segment: true}
	}
	old := make([]string, len(w.inputs))
	for i, in := range w.inputs {
		old[i] = in.Key
	}
	lp.Log.ReplaceCompacted(old, exts)
	compactionRewritten.Add(len(w.inputs))
	w.changed = true
	j.log.Debug("compacted segments", "topic", lp.Topic.Name, "partition", lp.Index, "key", key, "base", seg.BaseOffset,
		"last", seg.LastOffset, "replaced", len(w.inputs), "bytes", size, "tombstones", w.tombs)
	return nil
}

// commit replaces inputs by seg in etcd, fenced; after a moved fence it retries once if this
// broker still leads the partition at the same epoch.
func (w *compactionWriter) commit(ctx context.Context, pk meta.PartitionKey, inputs []*metapb.Segment, seg *metapb.Segment) error {
	j, lp := w.j, w.lp
	lasts := make([]int64, len(inputs))
	for i, in := range inputs {
		lasts[i] = in.LastOffset
	}
	_, _, epoch := lp.Log.Offsets()
	err := j.meta.ReplaceSegments(ctx, j.nodeID, j.host.FenceRev(), pk, lasts, seg)
	if errors.Is(err, meta.ErrFenced) {
		st, ferr := j.host.RefreshFence(ctx)
		if ferr != nil {
			return ferr
		}
		if !leads(st, lp.TopicID, lp.Index, epoch) {
			return fmt.Errorf("cannot commit compacted segment %s: no longer the leader of %s-%d", seg.Key, lp.Topic.Name, lp.Index)
		}
		err = j.meta.ReplaceSegments(ctx, j.nodeID, j.host.FenceRev(), pk, lasts, seg)
	}
	if err != nil {
		return fmt.Errorf("cannot commit compacted segment %s: %w", seg.Key, err)
	}
	return nil
}
