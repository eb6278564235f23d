package broker

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/kafscale/kafscale/bucketmeta"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

// The bucket keeps a copy of what `kafscale fsck --rebuild` cannot read from object
// footers (package bucketmeta, docs/fsck.md): a topic's manifest is written when the topic
// is created or changed, before the request is answered, and committed group offsets are
// copied every --bucket-metadata-interval by the broker coordinating the group, and the
// durable log starts of the partitions a broker leads by that broker.

// putManifest writes the manifest of a topic just created or changed. A failure is logged,
// not answered: etcd holds the change, and the periodic sync writes the manifest again.
func (b *Broker) putManifest(ctx context.Context, t *metapb.Topic) {
	if err := bucketmeta.PutTopic(ctx, b.store, t); err != nil {
		b.logSyncError(ctx, "cannot write topic manifest to the bucket; the next metadata sync retries", "topic", t.Name, "err", err)
	}
}

// deleteManifest deletes the manifests of a deleted topic (the sync retries a failure).
func (b *Broker) deleteManifest(ctx context.Context, t *metapb.Topic) {
	if err := bucketmeta.DeleteTopic(ctx, b.store, [16]byte(t.Id)); err != nil {
		b.logSyncError(ctx, "cannot delete topic manifest from the bucket; the next metadata sync retries", "topic", t.Name, "err", err)
	}
}

// runBucketMetadataSync starts the periodic copy of group offsets and lagging topic
// manifests into the bucket.
func (b *Broker) runBucketMetadataSync() {
	s := &bucketmeta.Syncer{Meta: b.meta, Store: b.store, Owns: b.ownsGroup, Broker: b.cfg.NodeID, LogStarts: b.durableLogStarts,
		Log: b.log.With("component", "bucket-metadata")}
	b.every(b.cfg.BucketMetadataInterval, func() {
		if b.stopped.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.BucketMetadataInterval+time.Minute)
		defer cancel()
		if err := s.Sync(ctx); err != nil {
			b.logSyncError(ctx, "cannot copy metadata to the bucket", "err", err)
		}
	})
}

// durableLogStarts returns the log starts above 0 of the partitions this broker leads, as
// their last written checkpoints hold them, sorted.
func (b *Broker) durableLogStarts() []bucketmeta.LogStart {
	led := b.ledPartitions()
	var out []bucketmeta.LogStart
	b.jobs.LockCheckpoints()
	for _, lp := range led {
		if cp := lp.ps.lc.Checkpoint(); cp != nil && cp.LogStart > 0 {
			out = append(out, bucketmeta.LogStart{Partition: meta.PartitionKey{TopicID: lp.t.id, Partition: lp.p}, LogStart: cp.LogStart})
		}
	}
	b.jobs.UnlockCheckpoints()
	slices.SortFunc(out, func(x, y bucketmeta.LogStart) int {
		if c := bytes.Compare(x.Partition.TopicID[:], y.Partition.TopicID[:]); c != 0 {
			return c
		}
		return cmp.Compare(x.Partition.Partition, y.Partition.Partition)
	})
	return out
}

// logSyncError logs a failed copy to the bucket: a warning, or only an info line when ctx
// ended (a shutdown or the request's deadline), which is no fault; the next sync retries.
func (b *Broker) logSyncError(ctx context.Context, msg string, args ...any) {
	if ctx.Err() != nil {
		b.log.Info(msg, args...)
		return
	}
	b.log.Warn(msg, args...)
}
