package broker

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
func (b *Broker) gcOnce() {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Merge.GCInterval+time.Minute)
	defer cancel()
	if err := b.collectGarbage(ctx); err != nil {
		gcErrors.Inc()
		b.log.Warn("cannot collect garbage", "err", err)
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
func (b *Broker) collectGarbage(ctx context.Context) error {
	if b.stopped.Load() {
		return nil // replaced or session lost: a zombie deletes nothing
	}
	if err := b.advanceIdleChains(ctx); err != nil {
		return err
	}
	floor := b.flusher.CommitFloor()
	cps, err := b.meta.ListAllCheckpoints(ctx)
	if err != nil {
		return err
	}
	minRef := make(map[uint64]uint64) // incarnation -> lowest first seq any chain needs
	for _, cp := range cps {
		for _, ch := range cp.Chains {
			if ch.BrokerId != b.cfg.NodeID {
				continue
			}
			if s, ok := minRef[ch.Incarnation]; !ok || ch.FirstSeq < s {
				minRef[ch.Incarnation] = ch.FirstSeq
			}
		}
	}
	objs, err := b.meta.ListBrokerObjects(ctx, b.cfg.NodeID)
	if err != nil {
		return err
	}
	self := b.reg.Incarnation
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
		n, err := b.meta.DeleteObjects(ctx, b.reg, inc, below)
		if errors.Is(err, meta.ErrFenced) {
			b.stopServing("this broker incarnation was replaced")
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
	if err := b.deleteUnreferenced(ctx, segment.FlushPrefixOf(b.cfg.NodeID), referenced, newer); err != nil {
		return err
	}
	segs, err := b.meta.ListAllSegmentKeys(ctx)
	if err != nil {
		return err
	}
	if err := b.deleteUnreferenced(ctx, segment.SegmentPrefix, segs, nil); err != nil {
		return err
	}
	snaps := make(map[string]bool)
	for _, cp := range cps {
		if cp.ProducerStateObject != "" {
			snaps[cp.ProducerStateObject] = true
		}
	}
	return b.deleteUnreferenced(ctx, segment.ProducerStatePrefix, snaps, nil)
}

// deleteUnreferenced deletes objects under prefix that referenced lacks (and keep, if set,
// does not protect) once this GC has seen them unreferenced for gc.grace by its own
// monotonic clock, and the store's modification time is that old too. Counting from when
// GC first saw an object, rather than from the store's timestamp alone, makes the grace
// immune to clock skew between this broker and the store: an object is listed only after
// its upload started, so it is deleted at least gc.grace after that, while its commit
// lands within gc.grace/2 of it (flush.Config.MaxCommitDelay, merge's commit deadline).
func (b *Broker) deleteUnreferenced(ctx context.Context, prefix string, referenced map[string]bool, keep func(string) bool) error {
	infos, err := b.store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("cannot list objects under %s: %w", prefix, err)
	}
	now := time.Now()
	cutoff := now.Add(-b.cfg.Merge.GCGrace)
	seen := b.gcSeen[prefix]
	next := make(map[string]time.Time)
	for _, info := range infos {
		if referenced[info.Key] || (keep != nil && keep(info.Key)) {
			continue
		}
		first, ok := seen[info.Key]
		if !ok {
			first = now
		}
		if now.Sub(first) < b.cfg.Merge.GCGrace || info.Modified.After(cutoff) || b.stopped.Load() {
			next[info.Key] = first
			continue
		}
		if err := b.store.Delete(ctx, info.Key); err != nil {
			b.gcSeen[prefix] = mergeSeen(next, seen)
			return fmt.Errorf("cannot delete unreferenced object %s: %w", info.Key, err)
		}
		gcObjectsDeleted.Inc()
	}
	b.gcSeen[prefix] = next
	return nil
}

// mergeSeen keeps the first-seen times of a pass cut short, so no object's grace restarts.
func mergeSeen(next, old map[string]time.Time) map[string]time.Time {
	for k, v := range old {
		if _, ok := next[k]; !ok {
			next[k] = v
		}
	}
	return next
}

// advanceIdleChains moves forward the chains of partitions whose data is all merged, which
// merging never does since it has nothing to merge: without it one idle partition's chain
// pins every later objects/ entry and flush object of its broker (issue 18, scenario 1),
// and each takeover adds a chain to it. A chain with unmerged extents starts at the first
// of them; this leadership's own chain with none starts at the commit floor read before
// the index (every batch below the floor is committed, hence in the index or merged); any
// other chain with none is dropped. Changed checkpoints are written in one fenced batch.
func (b *Broker) advanceIdleChains(ctx context.Context) error {
	b.cpMu.Lock()
	defer b.cpMu.Unlock()
	floor := b.flusher.CommitFloor()
	cps := make(map[meta.PartitionKey]*metapb.Checkpoint)
	states := make(map[meta.PartitionKey]*partState)
	var dl uploadDeadline
	for _, lp := range b.ledPartitions() {
		l := lp.ps.log
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
		chains := advanceChains(lp.ps.cp.Chains, nil, remaining, b.cfg.NodeID, b.reg.Incarnation, epoch)
		for _, ch := range chains {
			own := ch.BrokerId == b.cfg.NodeID && ch.Incarnation == b.reg.Incarnation && ch.LeaderEpoch == epoch
			if own && !hasChainExtents(remaining, ch) {
				ch.FirstSeq = max(ch.FirstSeq, floor)
			}
		}
		if sameChains(chains, lp.ps.cp.Chains) {
			continue
		}
		cp, err := b.checkpointOf(ctx, l, chains, &dl)
		if err != nil {
			return err
		}
		pk := meta.PartitionKey{TopicID: lp.t.id, Partition: lp.p}
		cps[pk], states[pk] = cp, lp.ps
	}
	if len(cps) == 0 {
		return nil
	}
	if err := b.putCheckpoints(ctx, cps, &dl); err != nil {
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
