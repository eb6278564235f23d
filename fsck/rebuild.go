package fsck

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/producer"
	"github.com/kafscale/kafscale/segment"
)

// maxInlineProducerState is the broker's limit (lifecycle/checkpoint.go): a larger snapshot
// goes to a producer-state object the checkpoint names.
const maxInlineProducerState = 4 << 10

// Rebuild restores etcd from the bucket alone into an empty prefix: topics from their
// manifests; each partition's log from the footers (fold), its unmerged tail copied into
// new segment objects so that the restored metadata references only segments; log start,
// next offset, leader epochs and producer state; a leader per partition at the highest
// epoch seen (a broker's start then takes it over at the next epoch); committed group
// offsets from their snapshots; and the next producer id. It refuses a prefix holding any
// key. Findings (gaps, corrupt objects, extents of topics without a manifest) are in the
// report; the data past a gap is restored.
func Rebuild(ctx context.Context, ms *meta.Store, st objstore.Store, o Options) (*Report, error) {
	if n, keys, err := ms.SampleKeys(ctx, 5); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("cannot rebuild into etcd prefix %s: it holds %d keys (%s): a rebuild writes only into an empty etcd (or a new --etcd-prefix), with every broker stopped: %w",
			ms.Keys().Root(), n, strings.Join(keys, ", "), meta.ErrNotEmpty)
	}
	r := &Report{Mode: "rebuild"}
	b, err := Scan(ctx, st, o.Parallel)
	if err != nil {
		return nil, err
	}
	r.FlushObjects, r.SegmentObjects, r.ProducerStates = len(b.Flush), len(b.Segments), len(b.ProducerStates)
	reportBadMetadata(b, r)
	segs, flush := partitionsOf(b, r)
	for id := range unknownTopics(b, segs, flush) {
		r.note(Finding{Kind: KindUnknownTopic, Topic: hex.EncodeToString(id[:]),
			Detail: "objects hold extents of this topic id but the bucket has no manifest of it (a deleted topic whose data GC has not yet removed, or one created before manifests were written): not restored"})
	}
	out := meta.Restored{Assignments: map[int32]*metapb.Assignment{}, Checkpoints: map[meta.PartitionKey]*metapb.Checkpoint{},
		Segments: map[meta.PartitionKey][]*metapb.Segment{}, Groups: map[string][]meta.GroupOffset{}}
	defaultLeader := busiestBroker(b)
	cache := newDataCache(st, dataCacheBytes)
	var ids [][16]byte
	for id := range b.Manifests {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return b.Manifests[ids[i]].Topic.Name < b.Manifests[ids[j]].Topic.Name })
	for _, id := range ids {
		t := b.Manifests[id].Topic
		out.Topics = append(out.Topics, t)
		r.Topics++
		compacted := strings.Contains(t.Configs["cleanup.policy"], "compact")
		for p := range t.Partitions {
			r.Partitions++
			pk := meta.PartitionKey{TopicID: id, Partition: p}
			rp, err := restorePartition(ctx, st, cache, t, p, segs[pk], flush[pk], b.LogStarts[pk], compacted, r)
			if err != nil {
				return nil, err
			}
			leader := rp.leader
			if leader < 0 {
				leader = defaultLeader
			}
			a := out.Assignments[leader]
			if a == nil {
				a = &metapb.Assignment{}
				out.Assignments[leader] = a
			}
			a.Partitions = append(a.Partitions, &metapb.PartitionRef{TopicId: t.Id, Partition: p, LeaderEpoch: rp.epoch})
			if rp.cp != nil {
				out.Checkpoints[pk] = rp.cp
				out.Segments[pk] = rp.segs
				out.NextProducerID = max(out.NextProducerID, rp.maxProducerID+1)
			}
		}
	}
	for g, offs := range b.Groups {
		var keep []meta.GroupOffset
		for _, off := range offs {
			if _, ok := b.Manifests[off.Partition.TopicID]; ok {
				keep = append(keep, off)
			}
		}
		if len(keep) < len(offs) {
			r.note(Finding{Kind: "group-offsets", Topic: g, Detail: fmt.Sprintf("%d offsets of topics not restored dropped", len(offs)-len(keep))})
		}
		if len(keep) > 0 {
			out.Groups[g] = keep
			r.Groups++
		}
	}
	if err := ms.Restore(ctx, out); err != nil {
		return nil, err
	}
	return r, nil
}

// partitionsOf sorts the bucket's extents by partition: segment objects whole (a segment
// holds one partition, named in its key), flush objects extent by extent.
func partitionsOf(b *Bucket, r *Report) (map[meta.PartitionKey][]*segCand, map[meta.PartitionKey][]*flushCand) {
	segs := map[meta.PartitionKey][]*segCand{}
	flush := map[meta.PartitionKey][]*flushCand{}
	for _, o := range b.Segments {
		if o.Footer == nil {
			r.problem(Finding{Kind: KindCorrupt, Object: o.Key, Detail: o.FooterErr.Error() + "; its records are not restored"})
			continue
		}
		ext := o.Footer.Extents
		if len(ext) == 0 {
			continue
		}
		pk := meta.PartitionKey{TopicID: ext[0].TopicID, Partition: ext[0].Partition}
		if want := segment.SegmentPartitionPrefix(pk.TopicID, pk.Partition); !strings.HasPrefix(o.Key, want) {
			r.problem(Finding{Kind: KindMismatch, Object: o.Key, Detail: "segment footer names partition " + pk.String() + ", not its key's; not restored"})
			continue
		}
		ok := true
		for _, e := range ext {
			ok = ok && e.TopicID == pk.TopicID && e.Partition == pk.Partition
		}
		if !ok {
			r.problem(Finding{Kind: KindMismatch, Object: o.Key, Detail: "segment holds extents of several partitions; not restored"})
			continue
		}
		segs[pk] = append(segs[pk], &segCand{obj: o, ext: ext})
	}
	for _, o := range b.Flush {
		if o.Footer == nil {
			r.problem(Finding{Kind: KindCorrupt, Object: o.Key, Detail: o.FooterErr.Error() + "; its records are not restored"})
			continue
		}
		broker, _, _, err := segment.ParseFlushKey(o.Key)
		if err != nil {
			r.note(Finding{Kind: "unknown-object", Object: o.Key, Detail: err.Error()})
			continue
		}
		for _, e := range o.Footer.Extents {
			pk := meta.PartitionKey{TopicID: e.TopicID, Partition: e.Partition}
			flush[pk] = append(flush[pk], &flushCand{key: o.Key, footer: o.Footer, broker: broker, ext: e})
		}
	}
	return segs, flush
}

func unknownTopics(b *Bucket, segs map[meta.PartitionKey][]*segCand, flush map[meta.PartitionKey][]*flushCand) map[[16]byte]bool {
	out := map[[16]byte]bool{}
	for pk := range segs {
		if _, ok := b.Manifests[pk.TopicID]; !ok {
			out[pk.TopicID] = true
		}
	}
	for pk := range flush {
		if _, ok := b.Manifests[pk.TopicID]; !ok {
			out[pk.TopicID] = true
		}
	}
	return out
}

// busiestBroker returns the broker id that wrote the most flush objects (0 if none): the
// leader of partitions whose own writer the bucket does not tell (data only in segments,
// or none). The controller moves partitions of a broker that does not come back.
func busiestBroker(b *Bucket) int32 {
	counts := map[int32]int{}
	best, n := int32(0), 0
	for _, o := range b.Flush {
		id, _, _, err := segment.ParseFlushKey(o.Key)
		if err != nil {
			continue
		}
		counts[id]++
		if c := counts[id]; c > n || c == n && id < best {
			best, n = id, c
		}
	}
	return best
}

// restoredPartition is one partition's restored metadata.
type restoredPartition struct {
	cp            *metapb.Checkpoint // nil: an empty partition
	segs          []*metapb.Segment
	epoch         int32
	leader        int32 // -1: unknown
	maxProducerID int64
}

// restorePartition folds one partition's log, reports its gaps, copies its flush extents
// into new segments and builds its checkpoint.
func restorePartition(ctx context.Context, st objstore.Store, cache *dataCache, t *metapb.Topic, p int32, segs []*segCand, flush []*flushCand,
	logStart int64, compactedTopic bool, r *Report) (restoredPartition, error) {
	rp := restoredPartition{leader: -1, maxProducerID: -1}
	// The last leader wrote the extents of the highest leader epoch.
	var lastEpoch int32 = -1
	for _, f := range flush {
		if f.ext.LeaderEpoch > lastEpoch {
			rp.leader, lastEpoch = f.broker, f.ext.LeaderEpoch
		}
	}
	res := fold(segs, flush)
	if res.empty && logStart == 0 {
		return rp, nil
	}
	// A copied log start above the lowest offset held moves it (DeleteRecords, retention):
	// pieces wholly below it are left out (a piece holding it is kept whole: the log start
	// may fall inside a batch, and a takeover skips chunks below it); above the last offset
	// held, the log is empty from there, and new records continue at it.
	if logStart > res.start || res.empty {
		res.start = logStart
		res.next = max(res.next, logStart)
		kept := res.pieces[:0]
		for _, pc := range res.pieces {
			if pc.last >= logStart {
				kept = append(kept, pc)
			}
		}
		res.pieces = kept
		if len(kept) > 0 && kept[0].afterGap && kept[0].gapFrom < logStart {
			kept[0].afterGap = kept[0].from > logStart
			kept[0].gapFrom = logStart
		}
	}
	now := time.Now()
	producers := producer.State{}
	var epochs []partition.EpochStart
	noteEpoch := func(epoch int32, at int64) {
		rp.epoch = max(rp.epoch, epoch)
		if len(epochs) == 0 || epochs[len(epochs)-1].Epoch != epoch {
			epochs = append(epochs, partition.EpochStart{Epoch: epoch, StartOffset: at})
		}
	}
	apply := func(delta []byte, where string) {
		recs, err := producer.DecodeRecords(delta)
		if err != nil {
			r.problem(Finding{Kind: KindCorrupt, Topic: t.Name, Partition: part(p), Object: where, Detail: "producer state: " + err.Error()})
			return
		}
		for _, rec := range recs {
			producers.Apply(rec)
			rp.maxProducerID = max(rp.maxProducerID, rec.ProducerID)
		}
	}
	gapAt := func(pc piece) {
		f := Finding{Kind: KindGap, Topic: t.Name, Partition: part(p), Object: pc.describe(),
			Detail: fmt.Sprintf("offsets %d-%d are in no object; the log is restored with this gap", pc.gapFrom, pc.from-1)}
		switch {
		case flaggedCompacted(pc):
			// Whatever the topic's policy is now: it may have changed since compaction ran.
			f.Kind, f.Detail = "compacted-gap", fmt.Sprintf("offsets %d-%d are in no object (removed by compaction: the segment after them is marked compacted)", pc.gapFrom, pc.from-1)
		case compactedTopic:
			f.Kind, f.Detail = "compacted-gap", fmt.Sprintf("offsets %d-%d are in no object (cleanup.policy=%s: removed by compaction)", pc.gapFrom, pc.from-1, t.Configs["cleanup.policy"])
		default:
			r.problem(f)
			return
		}
		r.note(f)
	}
	// Runs of consecutive flush pieces become one new segment each.
	var run []piece
	flushRun := func() error {
		if len(run) == 0 {
			return nil
		}
		seg, err := copyToSegment(ctx, st, cache, t, p, run)
		if err != nil {
			return err
		}
		rp.segs = append(rp.segs, seg)
		run = nil
		return nil
	}
	for _, pc := range res.pieces {
		if pc.afterGap {
			gapAt(pc)
		}
		if pc.seg != nil {
			if err := flushRun(); err != nil {
				return rp, err
			}
			seg := segmentEntry(pc.seg)
			if flaggedCompacted(pc) || pc.afterGap || gapsInside(pc.seg.ext) {
				// Takeover skips offsets only in a segment marked compacted, which must
				// start within the log: at the gap. A segment written by compaction says
				// so in its footer (format version 2); an older one is known by its gaps,
				// and one whose gaps all lie inside its chunks passes for uncompacted.
				seg.CompactedUnixMs = max(seg.CreatedUnixMs, 1)
				seg.Tombstones = true // unknown; a compacted segment with tombstones stays alone
				if pc.afterGap {
					seg.BaseOffset = min(seg.BaseOffset, pc.gapFrom)
				}
			}
			rp.segs = append(rp.segs, seg)
			for _, c := range pc.seg.ext {
				if c.LastOffset >= pc.from {
					noteEpoch(c.LeaderEpoch, max(c.BaseOffset, pc.from))
					apply(c.ProducerState, pc.seg.obj.Key)
				}
			}
			continue
		}
		if pc.afterGap {
			if err := flushRun(); err != nil {
				return rp, err
			}
		}
		run = append(run, pc)
		noteEpoch(pc.flush.ext.LeaderEpoch, pc.from)
		apply(pc.flush.ext.ProducerState, pc.flush.key)
	}
	if err := flushRun(); err != nil {
		return rp, err
	}
	if len(epochs) > partition.MaxEpochHistory {
		epochs = epochs[len(epochs)-partition.MaxEpochHistory:]
	}
	cp := &metapb.Checkpoint{LeaderEpoch: rp.epoch, LogStart: res.start, NextOffset: res.next, ProducerStateNextOffset: res.next}
	// No entry below the log start: the one holding it starts there (metadata.proto).
	for len(epochs) > 1 && epochs[1].StartOffset <= res.start {
		epochs = epochs[1:]
	}
	for _, e := range epochs {
		cp.Epochs = append(cp.Epochs, &metapb.EpochStart{LeaderEpoch: e.Epoch, StartOffset: max(e.StartOffset, res.start)})
	}
	snap := producer.AppendRecords(nil, producers.Records())
	if len(producers) > 0 && len(snap) > maxInlineProducerState {
		key := segment.ProducerStateKey([16]byte(t.Id), p, now)
		if err := st.Put(ctx, key, [][]byte{snap}, int64(len(snap))); err != nil {
			return rp, fmt.Errorf("cannot write producer state of %s-%d to %s: %w", t.Name, p, key, err)
		}
		cp.ProducerStateObject = key
	} else if len(producers) > 0 {
		cp.ProducerState = snap
	}
	rp.cp = cp
	return rp, nil
}

// flaggedCompacted reports whether a piece is a segment whose footer marks it as written by
// log compaction (segment.FlagCompacted, format version 2).
func flaggedCompacted(pc piece) bool {
	return pc.seg != nil && pc.seg.obj.Footer.Compacted()
}

// segmentEntry is the etcd value of an existing segment object.
func segmentEntry(s *segCand) *metapb.Segment {
	f := s.obj.Footer
	seg := &metapb.Segment{Key: s.obj.Key, BaseOffset: s.ext[0].BaseOffset, LastOffset: s.ext[len(s.ext)-1].LastOffset,
		Size: f.ObjectSize(), FooterPos: f.FooterPos, FooterLen: f.FooterLen, CreatedUnixMs: s.obj.created().UnixMilli()}
	for _, c := range s.ext {
		seg.MaxTimestamp = max(seg.MaxTimestamp, c.MaxTimestamp)
	}
	return seg
}

// copyToSegment reads a run of flush extents (each from its piece's first offset) and
// writes them, unchanged, as one new segment object, as merging would.
func copyToSegment(ctx context.Context, st objstore.Store, cache *dataCache, t *metapb.Topic, p int32, run []piece) (*metapb.Segment, error) {
	var data [][]byte
	for _, pc := range run {
		b, err := cache.extent(ctx, pc.flush.key, pc.flush.footer, pc.flush.ext)
		if err != nil {
			return nil, fmt.Errorf("cannot restore %s-%d: %w", t.Name, p, err)
		}
		b, err = batchesFrom(b, pc.from)
		if err != nil {
			return nil, fmt.Errorf("cannot restore %s-%d from %s: %w", t.Name, p, pc.flush.key, err)
		}
		data = append(data, b)
	}
	id := [16]byte(t.Id)
	parts, size, footer, err := segment.BuildSegment(id, p, data, segment.DefaultChunkBytes)
	if err != nil {
		return nil, fmt.Errorf("cannot restore %s-%d: %w", t.Name, p, err)
	}
	now := time.Now()
	key := segment.SegmentKey(id, p, now)
	if err := st.Put(ctx, key, parts, size); err != nil && !errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("cannot write segment %s of %s-%d: %w", key, t.Name, p, err)
	}
	seg := &metapb.Segment{Key: key, BaseOffset: footer.Extents[0].BaseOffset, LastOffset: footer.Extents[len(footer.Extents)-1].LastOffset,
		Size: size, FooterPos: footer.FooterPos, FooterLen: footer.FooterLen, CreatedUnixMs: now.UnixMilli()}
	for _, e := range footer.Extents {
		seg.MaxTimestamp = max(seg.MaxTimestamp, e.MaxTimestamp)
	}
	if run[0].afterGap {
		seg.CompactedUnixMs, seg.Tombstones = now.UnixMilli(), true
		seg.BaseOffset = run[0].gapFrom
	}
	return seg, nil
}

// batchesFrom drops the leading batches of b that end below from (an extent partly
// served by an earlier piece). A batch straddling from is an error: two copies of one
// offset range cut differently, which no writer produces.
func batchesFrom(b []byte, from int64) ([]byte, error) {
	for len(b) >= 61 {
		base := int64(binary.BigEndian.Uint64(b[0:8]))
		size := int64(binary.BigEndian.Uint32(b[8:12])) + 12
		last := base + int64(int32(binary.BigEndian.Uint32(b[23:27])))
		if size < 61 || size > int64(len(b)) {
			return nil, fmt.Errorf("batch length %d in %d bytes: %w", size, len(b), segment.ErrCorrupt)
		}
		switch {
		case base >= from:
			return b, nil
		case last >= from:
			return nil, fmt.Errorf("batch %d-%d straddles offset %d where an earlier object ends", base, last, from)
		}
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes are not a batch: %w", len(b), segment.ErrCorrupt)
	}
	return nil, errors.New("BUG: no batch at or after the piece's first offset")
}
