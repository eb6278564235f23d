package broker

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

var (
	gcEntriesDeleted = metrics.NewCounter(`kafscale_gc_object_entries_deleted_total`)
	gcObjectsDeleted = metrics.NewCounter(`kafscale_gc_objects_deleted_total`)
	gcErrors         = metrics.NewCounter(`kafscale_gc_errors_total`)
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

// collectGarbage deletes this broker's objects/ entries below every checkpoint chain's
// position (all of them for incarnations no chain names), then flush objects and segments
// no entry references that are older than gc.grace.
//
// Why this is safe: chain positions only move forward (merges), and a takeover starts its
// own chain at the flusher's next sequence, which is at least the commit floor read before
// the checkpoints; entries of this incarnation at or above that floor are never deleted.
func (b *Broker) collectGarbage(ctx context.Context) error {
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
	limit := func(inc uint64) uint64 {
		l := uint64(math.MaxUint64)
		if s, ok := minRef[inc]; ok {
			l = s
		}
		if inc == b.reg.Incarnation {
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
		n, err := b.meta.DeleteObjects(ctx, b.cfg.NodeID, inc, below)
		if err != nil {
			return err
		}
		gcEntriesDeleted.Add(int(n))
	}
	if err := b.deleteUnreferenced(ctx, "flush/"+strconv.Itoa(int(b.cfg.NodeID))+"/", referenced); err != nil {
		return err
	}
	segs, err := b.meta.ListAllSegmentKeys(ctx)
	if err != nil {
		return err
	}
	if err := b.deleteUnreferenced(ctx, "segments/", segs); err != nil {
		return err
	}
	snaps := make(map[string]bool)
	for _, cp := range cps {
		if cp.ProducerStateObject != "" {
			snaps[cp.ProducerStateObject] = true
		}
	}
	return b.deleteUnreferenced(ctx, "producer-state/", snaps)
}

// deleteUnreferenced deletes objects under prefix that referenced lacks and that are older
// than gc.grace (orphans of a crash between upload and commit included).
func (b *Broker) deleteUnreferenced(ctx context.Context, prefix string, referenced map[string]bool) error {
	infos, err := b.store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("cannot list objects under %s: %w", prefix, err)
	}
	cutoff := time.Now().Add(-b.cfg.Merge.GCGrace)
	for _, info := range infos {
		if referenced[info.Key] || info.Modified.After(cutoff) {
			continue
		}
		if err := b.store.Delete(ctx, info.Key); err != nil {
			return fmt.Errorf("cannot delete unreferenced object %s: %w", info.Key, err)
		}
		gcObjectsDeleted.Inc()
	}
	return nil
}
