package lifecycle

// Checkpointing: a partition's checkpoint (metapb.Checkpoint) holds what takeover needs to
// rebuild it: its leader epoch and history, log start, next offset, the chains of flush
// objects not yet merged, and a snapshot of its producer state. Written every
// checkpoint.interval for changed partitions, at Close for all, and by merging, GC,
// retention, DeleteRecords and takeover, always under cpMu and fenced.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/producer"
	"github.com/kafscale/kafscale/segment"
)

// LockCheckpoints takes the lock that serializes checkpoint writes and guards
// Part.Checkpoint; takeover holds it from writing its checkpoints to publishing the
// partitions.
func (j *Jobs) LockCheckpoints() { j.cpMu.Lock() }

// UnlockCheckpoints releases the lock LockCheckpoints took.
func (j *Jobs) UnlockCheckpoints() { j.cpMu.Unlock() }

// checkpointOnce writes the checkpoints of changed partitions (every checkpoint.interval).
func (j *Jobs) checkpointOnce() {
	ctx, cancel := context.WithTimeout(j.ctx, 30*time.Second)
	defer cancel()
	if err := j.WriteCheckpoints(ctx, false); err != nil {
		j.log.Warn("cannot write periodic checkpoints", "err", err)
	}
}

// WriteCheckpoints writes the checkpoint of every partition changed since the last one (all
// led partitions when all is set).
func (j *Jobs) WriteCheckpoints(ctx context.Context, all bool) error {
	j.cpMu.Lock()
	defer j.cpMu.Unlock()
	cps := make(map[meta.PartitionKey]*metapb.Checkpoint)
	var dl UploadDeadline
	for _, lp := range j.host.Partitions() {
		if !lp.Log.Leader() {
			continue
		}
		if !lp.Log.TakeDirty() && !all {
			continue
		}
		cp, err := j.CheckpointOf(ctx, lp.Log, lp.State.cp.Chains, &dl)
		if err != nil {
			return err
		}
		cps[meta.PartitionKey{TopicID: lp.TopicID, Partition: lp.Index}] = cp
	}
	if len(cps) == 0 {
		return nil
	}
	if err := j.PutCheckpoints(ctx, cps, &dl); err != nil {
		return err
	}
	for _, lp := range j.host.Partitions() {
		if cp, ok := cps[meta.PartitionKey{TopicID: lp.TopicID, Partition: lp.Index}]; ok {
			lp.State.cp = cp
		}
	}
	return nil
}

// maxInlineProducerState is the largest producer-state snapshot kept inline in a checkpoint;
// a larger one goes to an object the checkpoint names.
const maxInlineProducerState = 4 << 10

// CheckpointOf builds a partition's checkpoint with the given chains: its epoch, log start,
// next offset, leader-epoch history and a snapshot of its committed producer state current
// to the high watermark. A snapshot too large to inline is uploaded, noted in dl: the
// checkpoint must be committed before dl's deadline.
func (j *Jobs) CheckpointOf(ctx context.Context, l *partition.Log, chains []*metapb.Chain, dl *UploadDeadline) (*metapb.Checkpoint, error) {
	snap, at := l.ProducerSnapshot()
	logStart, _, epoch := l.Offsets()
	cp := &metapb.Checkpoint{LeaderEpoch: epoch, LogStart: logStart, NextOffset: at, Chains: chains, ProducerStateNextOffset: at}
	for _, e := range l.Epochs() {
		cp.Epochs = append(cp.Epochs, &metapb.EpochStart{LeaderEpoch: e.Epoch, StartOffset: e.StartOffset})
	}
	if len(snap) <= maxInlineProducerState {
		cp.ProducerState = snap
		return cp, nil
	}
	key := segment.ProducerStateKey(l.TopicID(), l.Partition(), time.Now())
	dl.starting()
	if err := j.store.Put(ctx, key, [][]byte{snap}, int64(len(snap))); err != nil {
		return nil, fmt.Errorf("cannot write producer state of %s-%d to %s: %w", l.Topic(), l.Partition(), key, err)
	}
	cp.ProducerStateObject = key
	return cp, nil
}

// LoadProducerSnapshot folds a checkpoint's producer-state snapshot into st.
func (j *Jobs) LoadProducerSnapshot(ctx context.Context, cp *metapb.Checkpoint, st producer.State) error {
	snap := cp.ProducerState
	if cp.ProducerStateObject != "" {
		data, _, err := j.store.GetSuffix(ctx, cp.ProducerStateObject, 1<<30)
		if err != nil {
			return fmt.Errorf("cannot read producer state object %s: %w", cp.ProducerStateObject, err)
		}
		snap = data
	}
	recs, err := producer.DecodeRecords(snap)
	if err != nil {
		return err
	}
	for _, r := range recs {
		st.Apply(r)
	}
	return nil
}

// PutCheckpoints writes checkpoints under the current fence, adopting a moved fence as
// often as it keeps moving (other topics deleted meanwhile), before dl's deadline (the
// objects the checkpoints reference were uploaded then). A checkpoint of a partition this
// broker no longer leads is dropped from cps, never written back. The checkpoint lock must be held.
func (j *Jobs) PutCheckpoints(ctx context.Context, cps map[meta.PartitionKey]*metapb.Checkpoint, dl *UploadDeadline) error {
	ctx, cancel, err := dl.context(ctx, j.cfg.GCGrace)
	if err != nil {
		return err
	}
	defer cancel()
	for attempt := 0; attempt < 10; attempt++ {
		err = j.meta.PutCheckpoints(ctx, j.nodeID, j.host.FenceRev(), cps)
		if !errors.Is(err, meta.ErrFenced) {
			return err
		}
		st, ferr := j.host.RefreshFence(ctx)
		if ferr != nil {
			return ferr
		}
		led := make(map[meta.PartitionKey]int32)
		for _, r := range st.Assignment.GetPartitions() {
			led[meta.PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition}] = r.LeaderEpoch
		}
		for k, cp := range cps {
			if e, ok := led[k]; !ok || e != cp.LeaderEpoch {
				delete(cps, k)
			}
		}
	}
	return fmt.Errorf("cannot write checkpoints: the fence kept moving: %w", err)
}

// errCommitTooLate is returned when objects a metadata commit would reference were uploaded
// longer than gc.grace/2 ago: GC may delete them, so the commit is not attempted (the work
// is redone with new uploads).
var errCommitTooLate = errors.New("the objects to commit were uploaded more than gc.grace/2 ago")

// UploadDeadline tracks the earliest start of the uploads one metadata commit will
// reference (a segment, producer-state objects). Every such commit must land within
// gc.grace/2 of it, as flush commits do (flush.Config.MaxCommitDelay), so that GC, which
// deletes an unreferenced object only gc.grace after it first saw it, never deletes an
// object whose commit then lands (issue 18, scenario 3). Owned by one goroutine.
type UploadDeadline struct{ first time.Time }

// starting records that an upload starts now.
func (d *UploadDeadline) starting() {
	if d.first.IsZero() {
		d.first = time.Now()
	}
}

// context bounds a commit by the deadline (parent alone when nothing was uploaded), or
// returns errCommitTooLate when it has passed.
func (d *UploadDeadline) context(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc, error) {
	if d.first.IsZero() {
		ctx, cancel := context.WithCancel(parent)
		return ctx, cancel, nil
	}
	dl := d.first.Add(grace / 2)
	if !time.Now().Before(dl) {
		return nil, nil, fmt.Errorf("%w (first upload at %s)", errCommitTooLate, d.first.Format(time.RFC3339Nano))
	}
	ctx, cancel := context.WithDeadline(parent, dl)
	return ctx, cancel, nil
}
