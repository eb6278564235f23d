package broker

// Fencing: how this incarnation learns that partitions moved off it, or that it was
// replaced, and what it does then (docs/object-lifecycle.md, "Fencing invariants").
//
// Every fenced write (object commit, checkpoint, segment) compares fences/<id> against
// b.fenceRev. When one fails, refreshFence re-reads the assignment at the new fence and,
// before adopting the new revision, resigns every partition this broker serves that the
// assignment no longer gives it at its epoch and records it in b.gone. The committer
// computes each commit's void list from b.gone after loading the revision it compares, so
// whichever path adopted a new revision, no commit under it acknowledges a batch of a
// partition that moved (the flusher's own void memory only covers commits that failed).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

// committer adapts the metadata store to the flusher.
type committer struct{ b *Broker }

// Commit commits obj under the current fence, voiding the batches of partitions this broker
// no longer leads. When the fence moved, it re-reads the assignment (refreshFence) and
// re-commits the same seq with the void list recomputed, as DESIGN.md's write path says.
// When this incarnation was replaced, it is fenced for good. A commit that an earlier,
// unanswered attempt already made is reported as that attempt committed it.
func (c committer) Commit(ctx context.Context, seq uint64, obj flush.Object) (flush.Committed, error) {
	b := c.b
	for attempt := 0; attempt < 10; attempt++ {
		// The revision is loaded before the gone set is read: refreshFence fills the set
		// before it stores a revision, so the void list covers every move up to rev.
		rev := b.fenceRev.Load()
		void := b.voidList(seq, obj)
		entry := &metapb.ObjectEntry{Key: obj.Key, Size: obj.Size, FooterPos: obj.FooterPos, FooterLen: obj.FooterLen,
			Void: partitionRefs(void)}
		got, err := b.meta.CommitObject(ctx, b.reg, rev, seq, entry)
		if err == nil {
			return flush.Committed{Key: got.Key, Voided: voidedIn(got, obj.Partitions)}, nil
		}
		if !errors.Is(err, meta.ErrFenced) {
			return flush.Committed{}, err
		}
		if _, err := b.refreshFence(ctx); err != nil {
			return flush.Committed{}, err
		}
	}
	return flush.Committed{}, fmt.Errorf("cannot commit object %s seq %d: the fence kept moving", obj.Key, seq)
}

// CommitGroup makes one attempt to commit objs at seqs in one transaction under the current
// fence, each with its void list computed as Commit computes it. Any failure (the fence
// moved, a key committed by an earlier attempt, a transport error) is returned as is: the
// flusher then commits them one by one with Commit, which handles each case.
func (c committer) CommitGroup(ctx context.Context, seqs []uint64, objs []flush.Object) ([]flush.Committed, error) {
	b := c.b
	rev := b.fenceRev.Load() // before the gone set is read, as in Commit
	entries := make([]*metapb.ObjectEntry, len(objs))
	for i, obj := range objs {
		entries[i] = &metapb.ObjectEntry{Key: obj.Key, Size: obj.Size, FooterPos: obj.FooterPos, FooterLen: obj.FooterLen,
			Void: partitionRefs(b.voidListOf(seqs[i], obj))}
	}
	ok, err := b.meta.CommitObjects(ctx, b.reg, rev, seqs, entries)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("group commit of seqs %d-%d: a compare failed", seqs[0], seqs[len(seqs)-1])
	}
	b.pruneGone(seqs[len(seqs)-1] + 1)
	out := make([]flush.Committed, len(objs))
	for i, obj := range objs {
		out[i] = flush.Committed{Key: obj.Key, Voided: voidedIn(entries[i], obj.Partitions)}
	}
	return out, nil
}

// MaxCommitGroup is the most objects one group commit holds (meta.Store.MaxCommitGroup).
func (c committer) MaxCommitGroup() int { return c.b.meta.MaxCommitGroup() }

// voidList returns the partitions of obj whose batches must be committed as void: those
// already voided by an earlier commit, and those this broker no longer leads.
func (b *Broker) voidList(seq uint64, obj flush.Object) []flush.PartitionID {
	b.pruneGone(seq)
	return b.voidListOf(seq, obj)
}

// pruneGone forgets the moved partitions whose batches no flush from seq on can hold. Only
// a commit of seq (or of a group ending before seq) may prune: a group commit that fails
// is committed again one by one from its first seq, which still needs them.
func (b *Broker) pruneGone(seq uint64) {
	b.goneMu.Lock()
	defer b.goneMu.Unlock()
	for id, last := range b.gone {
		if last < seq {
			delete(b.gone, id)
		}
	}
}

// voidListOf is voidList without pruning.
func (b *Broker) voidListOf(seq uint64, obj flush.Object) []flush.PartitionID {
	b.goneMu.Lock()
	defer b.goneMu.Unlock()
	var out []flush.PartitionID
	for _, p := range obj.Partitions {
		if _, gone := b.gone[p]; gone || slices.Contains(obj.Void, p) {
			out = append(out, p)
		}
	}
	return out
}

// voidedIn returns the partitions the committed entry voids.
func voidedIn(e *metapb.ObjectEntry, parts []flush.PartitionID) []flush.PartitionID {
	var out []flush.PartitionID
	for _, p := range parts {
		if voided(e, p.TopicID, p.Partition, p.LeaderEpoch) {
			out = append(out, p)
		}
	}
	return out
}

func partitionRefs(ids []flush.PartitionID) []*metapb.PartitionRef {
	var out []*metapb.PartitionRef
	for _, p := range ids {
		out = append(out, &metapb.PartitionRef{TopicId: p.TopicID[:], Partition: p.Partition, LeaderEpoch: p.LeaderEpoch})
	}
	return out
}

// refreshFence re-reads this broker's fence after a fenced write. When this incarnation is
// still the registered one, it resigns the partitions the assignment no longer gives it
// (recording them in b.gone) and only then adopts the new fence revision. Otherwise it
// stops serving and returns an error wrapping flush.ErrFenced: a zombie must stop.
func (b *Broker) refreshFence(ctx context.Context) (*meta.FenceState, error) {
	published := b.pubs.Load() // partitions published later may be missing from st
	st, err := b.meta.ReadFence(ctx, b.reg)
	if err != nil {
		return nil, err
	}
	if !st.Current {
		b.stopServing("this broker incarnation was replaced or lost its session")
		return nil, fmt.Errorf("broker %d incarnation %d: %w", b.cfg.NodeID, b.reg.Incarnation, flush.ErrFenced)
	}
	b.resignMoved(ctx, st.Assignment, published)
	b.setSlots(st.Assignment)
	b.fenceRev.Store(st.FenceRev)
	return st, nil
}

// resignMoved resigns every partition this broker serves that assignment does not give it
// at the same leader epoch, and records it in b.gone with the last flush that may hold its
// batches. Partitions published after publication number published are newer than the
// assignment read, which may not list them yet: they stay.
func (b *Broker) resignMoved(ctx context.Context, a *metapb.Assignment, published uint64) {
	led := make(map[flush.PartitionID]bool, len(a.GetPartitions()))
	for _, r := range a.GetPartitions() {
		led[flush.PartitionID{TopicID: [16]byte(r.TopicId), Partition: r.Partition, LeaderEpoch: r.LeaderEpoch}] = true
	}
	var moved []flush.PartitionID
	var resigned []ledPartition
	for _, lp := range b.ledPartitions() {
		_, _, epoch := lp.ps.log.Offsets()
		id := flush.PartitionID{TopicID: lp.t.id, Partition: lp.p, LeaderEpoch: epoch}
		if led[id] || lp.ps.pub > published {
			continue
		}
		// Resign first: from now on no batch of it enters a flush, so the open flush is
		// the last that can hold one.
		if resignQuietly(lp.ps.log) {
			resigned = append(resigned, lp)
		}
		moved = append(moved, id)
	}
	if len(moved) == 0 {
		return
	}
	last := b.flusher.NextSeq()
	b.goneMu.Lock()
	for _, id := range moved {
		if _, ok := b.gone[id]; !ok {
			b.gone[id] = last
		}
	}
	b.goneMu.Unlock()
	b.logUnassigned(ctx, resigned)
	b.log.Info("resigned partitions no longer assigned to this broker", "partitions", len(moved))
}

// logUnassigned logs each partition resignMoved resigned, after the fact: a topic deleted
// elsewhere (or by this broker, whose DeleteTopics handler has not resigned yet) leaves
// the assignment in the same etcd transaction, so a topic missing from etcd is the reason.
// The lookups only choose the log line's reason; an error there keeps the generic one.
func (b *Broker) logUnassigned(ctx context.Context, resigned []ledPartition) {
	deleted := map[*topic]bool{}
	for _, lp := range resigned {
		gone, ok := deleted[lp.t]
		if !ok {
			mt, err := b.meta.GetTopic(ctx, lp.t.meta.GetName())
			gone = errors.Is(err, meta.ErrTopicNotFound) || err == nil && !bytes.Equal(mt.GetId(), lp.t.id[:])
			deleted[lp.t] = gone
		}
		why := "no longer assigned to this broker at this leader epoch"
		if gone {
			why = "topic deleted"
		}
		b.logResigned(lp.ps.log, why)
	}
}

// stopServing ends every leadership of this incarnation at once: it was replaced by another
// process with the same broker id, or its session is gone, so its high watermarks may be
// stale and its commits are fenced. Reads and writes answer NOT_LEADER_OR_FOLLOWER.
func (b *Broker) stopServing(why string) {
	if b.ready.Swap(false) {
		b.log.Error(why+"; it stops serving as leader", "node_id", b.cfg.NodeID, "incarnation", b.reg.Incarnation)
	}
	b.stopped.Store(true)
	for _, lp := range b.ledPartitions() {
		b.resign(lp.ps.log, why)
	}
}
