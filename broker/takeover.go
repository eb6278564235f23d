package broker

import (
	"context"
	"fmt"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/lifecycle"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/producer"
	"github.com/kafscale/kafscale/segment"
)

// takeoverFooters counts object footers read by takeovers: the work a restart does, which
// merging and GC keep bounded.
var takeoverFooters = metrics.NewCounter(`kafscale_takeover_footers_read_total`)

// takeover rebuilds partitions from their checkpoints: for each chain (a leadership whose
// extents are not yet merged into segments) it lists the chain's committed objects from its
// first seq, reads their footers and folds this partition's extents of the chain's epoch.
// Object listings and footers are shared by all partitions of one takeover, so a restart
// reads each object's footer once whatever the partition count (takeover_chains.go).
type takeover struct {
	b      *Broker
	chains map[chainID]*chainIndex
	cps    map[meta.PartitionKey]*metapb.Checkpoint
	added  []*topic
	dl     lifecycle.UploadDeadline // producer-state objects the takeover checkpoints reference
}

type chainID struct {
	broker      int32
	incarnation uint64
}

func newTakeover(b *Broker) *takeover {
	return &takeover{
		b:      b,
		chains: make(map[chainID]*chainIndex),
		cps:    make(map[meta.PartitionKey]*metapb.Checkpoint),
	}
}

// add takes over the listed partitions of t; they serve once commit succeeds.
func (tk *takeover) add(ctx context.Context, t *metapb.Topic, refs []*metapb.PartitionRef) error {
	id := [16]byte(t.Id)
	tp := &topic{meta: t, id: id, parts: make([]*partState, t.Partitions), maxMessageBytes: tk.b.maxMessageBytes(t)}
	stored, err := tk.readStored(ctx, id, refs)
	if err != nil {
		return fmt.Errorf("cannot read checkpoints and segments of topic %s: %w", t.Name, err)
	}
	for _, ref := range refs {
		if ref.Partition < 0 || ref.Partition >= t.Partitions {
			return fmt.Errorf("BUG: assignment names partition %d of topic %s with %d partitions", ref.Partition, t.Name, t.Partitions)
		}
		ps, err := tk.partition(ctx, t, ref.Partition, ref.LeaderEpoch, stored)
		if err != nil {
			return err
		}
		tp.parts[ref.Partition] = ps
	}
	tk.added = append(tk.added, tp)
	return nil
}

// storedPartition is what etcd holds of a partition a takeover rebuilds.
type storedPartition struct {
	cp   *metapb.Checkpoint // nil for a partition never checkpointed
	segs []*metapb.Segment  // in offset order
}

// readStored reads the checkpoints and segments of the partitions refs names: with one range
// read each for the whole topic when the takeover has several of its partitions, where
// reading them partition by partition made a restart with 10,000 partitions wait for 20,000
// etcd round trips in turn (docs/benchmarks.md, "One broker at scale").
func (tk *takeover) readStored(ctx context.Context, id [16]byte, refs []*metapb.PartitionRef) (func(p int32) (storedPartition, error), error) {
	if len(refs) < 2 {
		return func(p int32) (storedPartition, error) {
			cp, err := tk.b.meta.GetCheckpoint(ctx, id, p)
			if err != nil {
				return storedPartition{}, fmt.Errorf("cannot read checkpoint: %w", err)
			}
			var segs []*metapb.Segment
			if cp != nil {
				if segs, err = tk.b.meta.ListSegments(ctx, id, p); err != nil {
					return storedPartition{}, fmt.Errorf("cannot list segments: %w", err)
				}
			}
			return storedPartition{cp: cp, segs: segs}, nil
		}, nil
	}
	cps, err := tk.b.meta.ListCheckpoints(ctx, id)
	if err != nil {
		return nil, err
	}
	segs, err := tk.b.meta.ListTopicSegments(ctx, id)
	if err != nil {
		return nil, err
	}
	return func(p int32) (storedPartition, error) {
		return storedPartition{cp: cps[p], segs: segs[p]}, nil
	}, nil
}

func (tk *takeover) partition(ctx context.Context, t *metapb.Topic, p, epoch int32, stored func(int32) (storedPartition, error)) (*partState, error) {
	id := [16]byte(t.Id)
	sp, err := stored(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s-%d: %w", t.Name, p, err)
	}
	cp := sp.cp
	st := partition.State{TopicID: id, Topic: t.Name, Partition: p, LeaderEpoch: epoch,
		Broker: tk.b.cfg.NodeID, Incarnation: tk.b.reg.Incarnation}
	var chains []*metapb.Chain
	st.Producers = producer.State{}
	if cp != nil {
		if err := tk.b.jobs.LoadProducerSnapshot(ctx, cp, st.Producers); err != nil {
			return nil, fmt.Errorf("cannot load producer state of %s-%d: %w", t.Name, p, err)
		}
		st.LogStart = cp.LogStart
		st.Epochs = epochsOf(cp)
		chains = cp.Chains
		next := cp.LogStart
		for _, seg := range sp.segs {
			if seg.LastOffset < next {
				continue // below the log start
			}
			takeoverFooters.Inc()
			f, err := segment.ReadFooterAt(ctx, tk.b.store, seg.Key, seg.FooterPos, seg.FooterLen)
			if err != nil {
				return nil, fmt.Errorf("cannot read footer of segment %s of %s-%d: %w", seg.Key, t.Name, p, err)
			}
			// A compacted segment may skip offsets between and inside its chunks, but it
			// starts within the log and always holds the batch ending at its last offset.
			compacted := seg.CompactedUnixMs > 0
			if compacted && seg.BaseOffset > next {
				return nil, fmt.Errorf("BUG: %s-%d has a gap: next offset %d, compacted segment %s starts at %d", t.Name, p, next, seg.Key, seg.BaseOffset)
			}
			for _, e := range f.Extents {
				if e.LastOffset < next {
					continue
				}
				if e.BaseOffset > next && !compacted {
					return nil, fmt.Errorf("BUG: %s-%d has a gap: next offset %d, segment %s chunk starts at %d", t.Name, p, next, seg.Key, e.BaseOffset)
				}
				e.ProducerState = nil // for fsck --rebuild only: the checkpoint's snapshot covers segments
				st.Extents = append(st.Extents, partition.Extent{Key: seg.Key, Extent: e, Segment: true})
				next = e.LastOffset + 1
			}
			if compacted && next != seg.LastOffset+1 {
				return nil, fmt.Errorf("BUG: %s-%d: compacted segment %s ends at %d, its chunks at %d", t.Name, p, seg.Key, seg.LastOffset, next-1)
			}
		}
		var live []*metapb.Chain
		for _, ch := range chains {
			exts, err := tk.chainExtents(ctx, id, p, ch)
			if err != nil {
				return nil, fmt.Errorf("cannot fold chain of broker %d incarnation %d into %s-%d: %w", ch.BrokerId, ch.Incarnation, t.Name, p, err)
			}
			folded := false
			for _, e := range exts {
				if e.LastOffset < next {
					continue // already folded (an extent seen through an earlier chain)
				}
				folded = true
				if e.BaseOffset > next {
					return nil, fmt.Errorf("BUG: %s-%d has a gap: next offset %d, extent %s starts at %d", t.Name, p, next, e.Key, e.BaseOffset)
				}
				st.Extents = append(st.Extents, e)
				next = e.LastOffset + 1
				if e.BaseOffset >= cp.ProducerStateNextOffset && len(e.ProducerState) > 0 {
					recs, err := producer.DecodeRecords(e.ProducerState)
					if err != nil {
						return nil, fmt.Errorf("cannot decode producer state of %s-%d in %s: %w", t.Name, p, e.Key, err)
					}
					for _, r := range recs {
						st.Producers.Apply(r)
					}
				}
			}
			// A chain that adds nothing past the segments is dropped: its leadership
			// ended (its fence moved at or before this takeover), so it never gains
			// extents, and keeping it would make every later takeover list it again.
			if folded {
				live = append(live, ch)
			}
		}
		chains = live
	}
	me := &metapb.Chain{BrokerId: tk.b.cfg.NodeID, Incarnation: tk.b.reg.Incarnation, FirstSeq: tk.b.flusher.NextSeq(), LeaderEpoch: epoch}
	l := partition.New(tk.b.cfg.Partition, st, tk.b.flusher, tk.b.cache)
	newCp, err := tk.b.jobs.CheckpointOf(ctx, l, append(append([]*metapb.Chain(nil), chains...), me), &tk.dl)
	if err != nil {
		return nil, err
	}
	tk.cps[meta.PartitionKey{TopicID: id, Partition: p}] = newCp
	return &partState{log: l, lc: lifecycle.NewPart(newCp)}, nil
}

// epochsOf returns a checkpoint's leader-epoch history. A checkpoint written before the
// history existed has none (every later one holds at least its own epoch): its history
// starts with its leader epoch at its next offset, which is at or after the end of every
// older epoch, so a consumer validating a position read at an older epoch is never told
// the log was truncated below it (docs/cluster.md, "Leader epochs").
func epochsOf(cp *metapb.Checkpoint) []partition.EpochStart {
	if len(cp.Epochs) == 0 {
		return []partition.EpochStart{{Epoch: cp.LeaderEpoch, StartOffset: cp.NextOffset}}
	}
	out := make([]partition.EpochStart, len(cp.Epochs))
	for i, e := range cp.Epochs {
		out[i] = partition.EpochStart{Epoch: e.LeaderEpoch, StartOffset: e.StartOffset}
	}
	return out
}

func voided(e *metapb.ObjectEntry, id [16]byte, p, epoch int32) bool {
	for _, v := range e.Void {
		if [16]byte(v.TopicId) == id && v.Partition == p && v.LeaderEpoch == epoch {
			return true
		}
	}
	return false
}

// commit writes the takeover checkpoints (fenced) and only then publishes the partitions,
// so no produce is accepted before the new chain is recorded.
func (tk *takeover) commit(ctx context.Context) error {
	tk.b.jobs.LockCheckpoints()
	defer tk.b.jobs.UnlockCheckpoints()
	if len(tk.cps) > 0 {
		if err := tk.b.jobs.PutCheckpoints(ctx, tk.cps, &tk.dl); err != nil {
			return fmt.Errorf("cannot write takeover checkpoints: %w", err)
		}
	}
	for _, t := range tk.added {
		for p, ps := range t.parts {
			if _, ok := tk.cps[meta.PartitionKey{TopicID: t.id, Partition: int32(p)}]; ps != nil && !ok {
				// putCheckpoints dropped it: no longer assigned here (moved meanwhile).
				ps.log.Resign()
				t.parts[p] = nil
			}
		}
	}
	tk.b.mu.Lock()
	defer tk.b.mu.Unlock()
	pub := tk.b.pubs.Add(1)
	for _, t := range tk.added {
		for _, ps := range t.parts {
			if ps != nil && ps.pub == 0 {
				ps.pub = pub
			}
		}
		if old, ok := tk.b.byID[t.id]; ok {
			// Keep the partitions already served, and a partition count that grew since
			// this takeover read the topic (CreatePartitions meanwhile).
			if len(old.parts) > len(t.parts) {
				t.meta = old.meta
				t.parts = append(t.parts, make([]*partState, len(old.parts)-len(t.parts))...)
			}
			for i, ps := range old.parts {
				if t.parts[i] == nil {
					t.parts[i] = ps
				}
			}
		}
		tk.b.topics[t.meta.Name] = t
		tk.b.byID[t.id] = t
	}
	return nil
}
