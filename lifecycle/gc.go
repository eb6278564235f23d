package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

var (
	gcEntriesDeleted = metrics.NewCounter(`kafscale_gc_object_entries_deleted_total`)
	gcObjectsDeleted = metrics.NewCounter(`kafscale_gc_objects_deleted_total`)
	gcErrors         = metrics.NewCounter(`kafscale_gc_errors_total`)
	gcChainsAdvanced = metrics.NewCounter(`kafscale_gc_idle_chains_advanced_total`)
)

// gcOnce deletes what no checkpoint needs any more (run every gc interval).
func (j *Jobs) gcOnce() {
	ctx, cancel := context.WithTimeout(j.ctx, j.cfg.GCInterval+time.Minute)
	defer cancel()
	if err := j.collectGarbage(ctx); err != nil {
		gcErrors.Inc()
		j.log.Warn("cannot collect garbage", "err", err)
	}
}

// collectGarbage moves the chains of partitions with nothing unmerged forward, deletes
// this broker's objects/ entries below every checkpoint chain's position (all of them for
// older incarnations no chain names), then flush objects, segments and producer-state
// objects nothing references once GC has seen them unreferenced for gc.grace.
//
// Why this is safe (docs/object-lifecycle.md, "Invariants"): chain positions only move
// forward, and a takeover starts its own chain at the flusher's next sequence, which is at
// least the commit floor read before the checkpoints, so entries of this incarnation at or
// above that floor are never deleted; entries of a newer incarnation (one that replaced
// this process) are never touched, and every entry delete is fenced on this incarnation
// still being the registered one.
func (j *Jobs) collectGarbage(ctx context.Context) error {
	if j.host.Stopped() {
		return nil // replaced or session lost: a zombie deletes nothing
	}
	if err := j.advanceIdleChains(ctx); err != nil {
		return err
	}
	floor := j.host.CommitFloor()
	cps, err := j.meta.ListAllCheckpoints(ctx)
	if err != nil {
		return err
	}
	minRef := make(map[uint64]uint64) // incarnation -> lowest first seq any chain needs
	for _, cp := range cps {
		for _, ch := range cp.Chains {
			if ch.BrokerId != j.nodeID {
				continue
			}
			if s, ok := minRef[ch.Incarnation]; !ok || ch.FirstSeq < s {
				minRef[ch.Incarnation] = ch.FirstSeq
			}
		}
	}
	objs, err := j.meta.ListBrokerObjects(ctx, j.nodeID)
	if err != nil {
		return err
	}
	self := j.reg.Incarnation
	limit := func(inc uint64) uint64 {
		if inc > self {
			return 0 // a newer incarnation replaced us: its entries are not ours to judge
		}
		l := uint64(math.MaxUint64)
		if s, ok := minRef[inc]; ok {
			l = s
		}
		if inc == self {
			l = min(l, floor)
		}
		return l
	}
	referenced := make(map[string]bool)
	deleteBelow := make(map[uint64]uint64)
	for _, o := range objs {
		if o.Seq < limit(o.Incarnation) {
			deleteBelow[o.Incarnation] = limit(o.Incarnation)
			continue
		}
		referenced[o.Entry.Key] = true
	}
	for inc, below := range deleteBelow {
		n, err := j.meta.DeleteObjects(ctx, j.reg, inc, below)
		if errors.Is(err, meta.ErrFenced) {
			j.host.StopServing("this broker incarnation was replaced")
		}
		if err != nil {
			return err
		}
		gcEntriesDeleted.Add(int(n))
	}
	// Flush objects of a newer incarnation of this broker id are never ours to delete.
	newer := func(key string) bool {
		_, inc, _, err := segment.ParseFlushKey(key)
		return err != nil || inc > self
	}
	if err := j.deleteUnreferenced(ctx, segment.FlushPrefixOf(j.nodeID), referenced, newer); err != nil {
		return err
	}
	segs, err := j.meta.ListAllSegmentKeys(ctx)
	if err != nil {
		return err
	}
	if err := j.deleteUnreferenced(ctx, segment.SegmentPrefix, segs, nil); err != nil {
		return err
	}
	snaps := make(map[string]bool)
	for _, cp := range cps {
		if cp.ProducerStateObject != "" {
			snaps[cp.ProducerStateObject] = true
		}
	}
	return j.deleteUnreferenced(ctx, segment.ProducerStatePrefix, snaps, nil)
}

// deleteUnreferenced deletes objects under prefix that referenced lacks (and keep, if set,
// does not protect) once this GC has seen them unreferenced for gc.grace by its own
// monotonic clock, and the store's modification time is that old too. Counting from when
// GC first saw an object, rather than from the store's timestamp alone, makes the grace
// immune to clock skew between this broker and the store: an object is listed only after
// its upload started, so it is deleted at least gc.grace after that, while its commit
// lands within gc.grace/2 of it (flush.Config.MaxCommitDelay, merge's commit deadline).
//
// Due objects go in batches of up to objstore.MaxDeleteBatch, one request each (S3's
// DeleteObjects): deleting one object per request at S3's latency fell behind the objects
// a busy broker writes (docs/benchmarks.md). A key the store could not delete keeps its
// first-seen time, so the next pass retries it without waiting out the grace again.
func (j *Jobs) deleteUnreferenced(ctx context.Context, prefix string, referenced map[string]bool, keep func(string) bool) error {
	infos, err := j.store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("cannot list objects under %s: %w", prefix, err)
	}
	now := time.Now()
	cutoff := now.Add(-j.cfg.GCGrace)
	seen := j.gcSeen[prefix]
	next := make(map[string]time.Time)
	var due []string
	for _, info := range infos {
		if referenced[info.Key] || (keep != nil && keep(info.Key)) {
			continue
		}
		first, ok := seen[info.Key]
		if !ok {
			first = now
		}
		next[info.Key] = first
		if now.Sub(first) >= j.cfg.GCGrace && !info.Modified.After(cutoff) {
			due = append(due, info.Key)
		}
	}
	var errs []error
	for batch := range slices.Chunk(due, objstore.MaxDeleteBatch) {
		if j.host.Stopped() {
			break // replaced or session lost: a zombie deletes nothing
		}
		err := j.store.DeleteMany(ctx, batch)
		left := objstore.NotDeleted(batch, err)
		for _, k := range batch {
			if !slices.Contains(left, k) {
				delete(next, k)
			}
		}
		gcObjectsDeleted.Add(len(batch) - len(left))
		if err == nil {
			continue
		}
		errs = append(errs, fmt.Errorf("cannot delete unreferenced objects under %s: %w", prefix, err))
		var de *objstore.DeleteError
		if !errors.As(err, &de) {
			break // the request failed as a whole: the store is likely failing for all
		}
	}
	j.gcSeen[prefix] = next
	return errors.Join(errs...)
}

// advanceIdleChains moves forward the chains of partitions whose data is all merged, which
// merging never does since it has nothing to merge: without it one idle partition's chain
// pins every later objects/ entry and flush object of its broker (issue 18, scenario 1),
// and each takeover adds a chain to it. A chain with unmerged extents starts at the first
// of them; this leadership's own chain with none starts at the commit floor read before
// the index (every batch below the floor is committed, hence in the index or merged); any
// other chain with none is dropped. Changed checkpoints are written in one fenced batch.
func (j *Jobs) advanceIdleChains(ctx context.Context) error {
	j.cpMu.Lock()
	defer j.cpMu.Unlock()
	floor := j.host.CommitFloor()
	cps := make(map[meta.PartitionKey]*metapb.Checkpoint)
	states := make(map[meta.PartitionKey]*Part)
	var dl UploadDeadline
	for _, lp := range j.host.Partitions() {
		l := lp.Log
		if !l.Leader() {
			continue
		}
		_, _, epoch := l.Offsets()
		var remaining []partition.Extent
		for _, e := range l.Extents() {
			if !e.Segment {
				remaining = append(remaining, e)
			}
		}
		chains := advanceChains(lp.State.cp.Chains, nil, remaining, j.nodeID, j.reg.Incarnation, epoch)
		for _, ch := range chains {
			own := ch.BrokerId == j.nodeID && ch.Incarnation == j.reg.Incarnation && ch.LeaderEpoch == epoch
			if own && !hasChainExtents(remaining, ch) {
				ch.FirstSeq = max(ch.FirstSeq, floor)
			}
		}
		if sameChains(chains, lp.State.cp.Chains) {
			continue
		}
		cp, err := j.CheckpointOf(ctx, l, chains, &dl)
		if err != nil {
			return err
		}
		pk := meta.PartitionKey{TopicID: lp.TopicID, Partition: lp.Index}
		cps[pk], states[pk] = cp, lp.State
	}
	if len(cps) == 0 {
		return nil
	}
	if err := j.PutCheckpoints(ctx, cps, &dl); err != nil {
		return fmt.Errorf("cannot write checkpoints of idle partitions: %w", err)
	}
	for pk, cp := range cps { // putCheckpoints drops those no longer led
		states[pk].cp = cp
	}
	gcChainsAdvanced.Add(len(cps))
	return nil
}

// hasChainExtents reports whether any of exts was committed through chain ch.
func hasChainExtents(exts []partition.Extent, ch *metapb.Chain) bool {
	for _, e := range exts {
		if e.Broker == ch.BrokerId && e.Incarnation == ch.Incarnation && e.LeaderEpoch == ch.LeaderEpoch {
			return true
		}
	}
	return false
}

func sameChains(a, b []*metapb.Chain) bool {
	return slices.EqualFunc(a, b, func(x, y *metapb.Chain) bool {
		return x.BrokerId == y.BrokerId && x.Incarnation == y.Incarnation && x.FirstSeq == y.FirstSeq && x.LeaderEpoch == y.LeaderEpoch
	})
}
