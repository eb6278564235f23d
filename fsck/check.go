package fsck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafscale/kafscale/bucketmeta"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// Options are the settings of a check or a rebuild.
type Options struct {
	// OrphanAge is how old an unreferenced object must be to count as an orphan; younger
	// ones are in flight (uploaded, not yet committed) or waiting for GC. GC deletes an
	// unreferenced object gc.grace after it first sees it, and runs every gc.interval, so
	// the default is the brokers' defaults added: 10 + 1 minutes.
	OrphanAge time.Duration
	// Parallel bounds the footer (and extent) reads in flight.
	Parallel int
	// VerifyData makes a check also read every extent and validate its record batches
	// (KindCorruptData): one read of the whole bucket.
	VerifyData bool
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// DefaultOptions returns the defaults of `kafscale fsck`.
func DefaultOptions() Options {
	return Options{OrphanAge: 11 * time.Minute, Parallel: 16}
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// etcdState is what a check reads from etcd.
type etcdState struct {
	topics  []*metapb.Topic
	cps     map[meta.PartitionKey]*metapb.Checkpoint
	segs    map[meta.PartitionKey][]*metapb.Segment
	objects map[int32][]meta.ObjectRef
}

func readEtcd(ctx context.Context, ms *meta.Store) (*etcdState, error) {
	var e etcdState
	var err error
	if e.topics, err = ms.ListTopics(ctx); err != nil {
		return nil, err
	}
	if e.cps, err = ms.ListAllCheckpoints(ctx); err != nil {
		return nil, err
	}
	if e.segs, err = ms.ListAllSegments(ctx); err != nil {
		return nil, err
	}
	if e.objects, err = ms.ListAllObjects(ctx); err != nil {
		return nil, err
	}
	return &e, nil
}

// ref is one etcd key's reference to an object, with what it recorded about it.
type ref struct {
	from                 string // the etcd key (or its description) that references the object
	size                 int64  // 0: not recorded
	footerPos, footerLen int64  // 0, 0: not recorded
}

// refs returns every object etcd references, by object key.
func (e *etcdState) refs(keys meta.Keys) map[string]ref {
	out := map[string]ref{}
	for b, objs := range e.objects {
		for _, o := range objs {
			out[o.Entry.Key] = ref{from: keys.Object(b, o.Incarnation, o.Seq), size: o.Entry.Size,
				footerPos: o.Entry.FooterPos, footerLen: o.Entry.FooterLen}
		}
	}
	for pk, segs := range e.segs {
		for _, s := range segs {
			out[s.Key] = ref{from: keys.Segment(pk.TopicID, pk.Partition, s.LastOffset), size: s.Size,
				footerPos: s.FooterPos, footerLen: s.FooterLen}
		}
	}
	for pk, cp := range e.cps {
		if cp.ProducerStateObject != "" {
			out[cp.ProducerStateObject] = ref{from: keys.Partition(pk.TopicID, pk.Partition)}
		}
	}
	return out
}

// Check compares etcd with the bucket: objects etcd references that the bucket lacks or
// that differ from what etcd recorded, footers that do not decode, unreferenced objects
// older than o.OrphanAge, topic manifests that lag etcd, and each partition's offsets
// from its log start to its checkpoint's next offset.
func Check(ctx context.Context, ms *meta.Store, st objstore.Store, o Options) (*Report, error) {
	r := &Report{Mode: "check"}
	b, err := Scan(ctx, st, o.Parallel)
	if err != nil {
		return nil, err
	}
	e, err := readEtcd(ctx, ms)
	if err != nil {
		return nil, err
	}
	now := o.now()
	r.FlushObjects, r.SegmentObjects, r.ProducerStates = len(b.Flush), len(b.Segments), len(b.ProducerStates)
	r.Topics, r.Groups = len(e.topics), len(b.Groups)
	refs := e.refs(ms.Keys())
	if err := checkMissing(ctx, ms, st, b, refs, r); err != nil {
		return nil, err
	}
	for _, l := range [][]*Object{b.Flush, b.Segments} {
		for _, obj := range l {
			if obj.FooterErr != nil {
				r.problem(Finding{Kind: KindCorrupt, Object: obj.Key, Detail: obj.FooterErr.Error()})
			}
		}
	}
	if o.VerifyData {
		if err := verifyData(ctx, st, append(append([]*Object(nil), b.Flush...), b.Segments...), o.Parallel, r); err != nil {
			return nil, err
		}
	}
	for _, l := range [][]*Object{b.Flush, b.Segments, b.ProducerStates} {
		for _, obj := range l {
			if _, ok := refs[obj.Key]; ok {
				continue
			}
			if age := now.Sub(obj.created()); age > o.OrphanAge {
				r.problem(Finding{Kind: KindOrphan, Object: obj.Key,
					Detail: fmt.Sprintf("no etcd key references it; %s old, GC should have deleted it", age.Round(time.Second))})
			} else {
				r.InFlight++
			}
		}
	}
	reportBadMetadata(b, r)
	for _, k := range b.Unknown {
		r.note(Finding{Kind: "unknown-object", Object: k, Detail: "not under a prefix KafScale writes"})
	}
	checkManifests(e, b, r)
	for _, t := range e.topics {
		for p := range t.Partitions {
			r.Partitions++
			checkPartition(ms.Keys(), e, b, t, p, r)
		}
	}
	return r, nil
}

// checkMissing reports references to objects the listing lacks. The bucket was listed
// before etcd was read, so a broker may have committed an object since: each candidate is
// read directly, and counts only if it is absent and etcd still references it.
func checkMissing(ctx context.Context, ms *meta.Store, st objstore.Store, b *Bucket, refs map[string]ref, r *Report) error {
	var candidates []string
	for key, rf := range refs {
		obj := b.ByKey[key]
		if obj == nil {
			candidates = append(candidates, key)
			continue
		}
		if rf.size != 0 && rf.size != obj.Size {
			r.problem(Finding{Kind: KindMismatch, Object: key, Detail: fmt.Sprintf("%s records %d bytes, the bucket holds %d", rf.from, rf.size, obj.Size)})
		}
		if f := obj.Footer; f != nil && rf.footerLen != 0 && (f.FooterPos != rf.footerPos || f.FooterLen != rf.footerLen) {
			r.problem(Finding{Kind: KindMismatch, Object: key, Detail: fmt.Sprintf("%s records the footer at %d+%d, the object has it at %d+%d",
				rf.from, rf.footerPos, rf.footerLen, f.FooterPos, f.FooterLen)})
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	var absent []string
	for _, key := range candidates {
		_, _, err := st.GetSuffix(ctx, key, segment.TrailerSize)
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			absent = append(absent, key)
		case err != nil:
			return fmt.Errorf("cannot read %s: %w", key, err)
		}
	}
	if len(absent) == 0 {
		return nil
	}
	again, err := readEtcd(ctx, ms)
	if err != nil {
		return err
	}
	now := again.refs(ms.Keys())
	for _, key := range absent {
		if rf, ok := now[key]; ok {
			r.problem(Finding{Kind: KindMissing, Object: key, Detail: fmt.Sprintf("referenced by %s, absent from the bucket", rf.from)})
		}
	}
	return nil
}

// checkManifests compares every topic with its newest manifest in the bucket.
func checkManifests(e *etcdState, b *Bucket, r *Report) {
	live := map[[16]byte]bool{}
	for _, t := range e.topics {
		id := [16]byte(t.Id)
		live[id] = true
		m, ok := b.Manifests[id]
		switch {
		case !ok:
			r.problem(Finding{Kind: KindManifest, Topic: t.Name, Detail: "no manifest in the bucket: a rebuild could not restore this topic"})
		case !bucketmeta.SameTopic(m.Topic, t):
			r.problem(Finding{Kind: KindManifest, Topic: t.Name, Object: m.Key,
				Detail: fmt.Sprintf("manifest differs from etcd (manifest: %d partitions, configs %v; etcd: %d partitions, configs %v)",
					m.Topic.Partitions, m.Topic.Configs, t.Partitions, t.Configs)})
		}
	}
	for id, m := range b.Manifests {
		if !live[id] {
			r.note(Finding{Kind: KindManifest, Topic: m.Topic.Name, Object: m.Key, Detail: "manifest of a topic etcd no longer holds (deleted); the brokers' next metadata sync deletes it"})
		}
	}
}

// checkPartition folds one partition's log as a takeover would (its segments from the log
// start, then its checkpoint's chains) and reports offsets it skips and a log that ends
// before the checkpoint's next offset. A compacted segment (etcd records when compaction
// rewrote it) may skip offsets before and inside it: compaction removes records, keeping
// offsets, and that is no gap.
func checkPartition(keys meta.Keys, e *etcdState, b *Bucket, t *metapb.Topic, p int32, r *Report) {
	id := [16]byte(t.Id)
	pk := meta.PartitionKey{TopicID: id, Partition: p}
	cp := e.cps[pk]
	if cp == nil {
		if len(e.segs[pk]) > 0 {
			r.problem(Finding{Kind: KindGap, Topic: t.Name, Partition: part(p), Detail: fmt.Sprintf("%d segments but no checkpoint", len(e.segs[pk]))})
		}
		return
	}
	next := cp.LogStart
	gap := func(obj string, base int64) {
		r.problem(Finding{Kind: KindGap, Topic: t.Name, Partition: part(p), Object: obj,
			Detail: fmt.Sprintf("offsets %d-%d are in no object (log start %d)", next, base-1, cp.LogStart)})
	}
	unreadable := func(obj string) {
		r.note(Finding{Kind: "unchecked", Topic: t.Name, Partition: part(p), Object: obj,
			Detail: fmt.Sprintf("offsets from %d not checked: the object is missing or its footer unreadable", next)})
	}
	for _, seg := range e.segs[pk] {
		if seg.LastOffset < next {
			continue
		}
		obj := b.ByKey[seg.Key]
		if obj == nil || obj.Footer == nil {
			unreadable(seg.Key)
			return
		}
		// A compacted segment starts within the log (its range begins where the segments
		// it replaced began) even when compaction removed its first records.
		compacted := seg.CompactedUnixMs > 0
		if compacted && seg.BaseOffset > next {
			gap(seg.Key, seg.BaseOffset)
			next = seg.BaseOffset
		}
		for _, x := range obj.Footer.Extents {
			if x.TopicID != id || x.Partition != p {
				r.problem(Finding{Kind: KindMismatch, Topic: t.Name, Partition: part(p), Object: seg.Key, Detail: "segment holds another partition's extent"})
				return
			}
			if x.LastOffset < next {
				continue
			}
			if x.BaseOffset > next && !compacted {
				gap(seg.Key, x.BaseOffset)
			}
			next = x.LastOffset + 1
		}
		if compacted {
			next = max(next, seg.LastOffset+1)
		}
	}
	for _, ch := range cp.Chains {
		for _, o := range e.objects[ch.BrokerId] {
			if o.Incarnation != ch.Incarnation || o.Seq < ch.FirstSeq || voided(o.Entry, id, p, ch.LeaderEpoch) {
				continue
			}
			obj := b.ByKey[o.Entry.Key]
			if obj == nil || obj.Footer == nil {
				unreadable(o.Entry.Key)
				return
			}
			for _, x := range obj.Footer.Extents {
				if x.TopicID != id || x.Partition != p || x.LeaderEpoch != ch.LeaderEpoch || x.LastOffset < next {
					continue
				}
				if x.BaseOffset > next {
					gap(o.Entry.Key, x.BaseOffset)
				}
				next = x.LastOffset + 1
			}
		}
	}
	if next < cp.NextOffset {
		r.problem(Finding{Kind: KindShort, Topic: t.Name, Partition: part(p),
			Detail: fmt.Sprintf("the objects hold offsets up to %d, the checkpoint %s records next offset %d", next-1, keys.Partition(id, p), cp.NextOffset)})
	}
}

// voided reports whether an object entry voids a partition's extents at an epoch (their
// commit raced a leadership change; takeover ignores them too).
func voided(e *metapb.ObjectEntry, id [16]byte, p, epoch int32) bool {
	for _, v := range e.Void {
		if [16]byte(v.TopicId) == id && v.Partition == p && v.LeaderEpoch == epoch {
			return true
		}
	}
	return false
}

// reportBadMetadata reports the bucket's metadata copies that do not decode.
func reportBadMetadata(b *Bucket, r *Report) {
	for key, err := range b.BadMetadata {
		r.problem(Finding{Kind: KindCorruptMetadata, Object: key, Detail: err.Error() + "; left out"})
	}
}
