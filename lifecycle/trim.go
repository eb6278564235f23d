package lifecycle

import (
	"context"
	"errors"

	"github.com/kafscale/kafscale/meta"
)

// trimPartition deletes the segment keys of the partition wholly below its durable log
// start (the one its last written checkpoint holds: a takeover reading that checkpoint
// never looks for them) and drops them from the index; GC deletes the segment objects once
// they have been unreferenced for gc.grace. Segments straddling the log start stay, as
// Kafka keeps a log segment until all of it is below. It lists the partition's segments
// only when the log start moved since the last trim, or merging made a segment below it
// (of flush extents that were below it already).
func (j *Jobs) trimPartition(ctx context.Context, lp Partition) error {
	if !lp.Log.Leader() {
		return nil
	}
	j.cpMu.Lock()
	start := lp.State.cp.GetLogStart()
	j.cpMu.Unlock()
	if start <= lp.State.trimmed && !lp.Log.SegmentBelow(start) {
		return nil
	}
	segs, err := j.meta.ListSegments(ctx, lp.TopicID, lp.Index)
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
		pk := meta.PartitionKey{TopicID: lp.TopicID, Partition: lp.Index}
		if err := j.meta.DeleteSegments(ctx, j.nodeID, j.host.FenceRev(), pk, below); err != nil {
			if errors.Is(err, meta.ErrFenced) {
				_, _ = j.host.RefreshFence(ctx)
			}
			return err
		}
		segmentsTrimmed.Add(len(below))
	}
	lp.Log.DropSegmentsBelow(start)
	lp.State.trimmed = start
	return nil
}
