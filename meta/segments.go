package meta

import (
	"context"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// CommitSegment records a merged segment and the partition's new checkpoint (whose chain
// positions moved past the merged flush objects) in one transaction of two puts, fenced on
// mod_revision(fences/<brokerID>) == fenceRev. It never overwrites an existing segment key,
// and returns the segment committed under it: seg, or the segment an earlier merge of the
// same offset range committed although its reply was lost (together with its checkpoint),
// which the caller must serve instead.
func (s *Store) CommitSegment(ctx context.Context, brokerID int32, fenceRev int64, pk PartitionKey, seg *metapb.Segment, cp *metapb.Checkpoint) (*metapb.Segment, error) {
	segKey := s.keys.Segment(pk.TopicID, pk.Partition, seg.LastOffset)
	cpKey := s.keys.Partition(pk.TopicID, pk.Partition)
	segVal, err := marshal(seg)
	if err != nil {
		return nil, err
	}
	cpVal, err := marshal(cp)
	if err != nil {
		return nil, err
	}
	fence := s.keys.Fence(brokerID)
	resp, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(fence), "=", fenceRev),
			clientv3.Compare(clientv3.CreateRevision(segKey), "=", 0)).
		Then(clientv3.OpPut(segKey, string(segVal)), clientv3.OpPut(cpKey, string(cpVal))).
		Else(clientv3.OpGet(fence), clientv3.OpGet(segKey)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("cannot commit segment %s: %w", segKey, err)
	}
	if resp.Succeeded {
		return seg, nil
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		earlier := &metapb.Segment{}
		if err := proto.Unmarshal(kvs[0].Value, earlier); err != nil {
			return nil, fmt.Errorf("cannot decode segment %s: %w", segKey, err)
		}
		if earlier.BaseOffset != seg.BaseOffset || earlier.LastOffset != seg.LastOffset {
			return nil, fmt.Errorf("BUG: segment key %s holds offsets %d-%d, not %d-%d", segKey,
				earlier.BaseOffset, earlier.LastOffset, seg.BaseOffset, seg.LastOffset)
		}
		return earlier, nil
	}
	var current int64
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		current = kvs[0].ModRevision
	}
	return nil, fmt.Errorf("cannot commit segment %s: fence %s at %d, expected %d: %w", segKey, fence, current, fenceRev, ErrFenced)
}

// DeleteSegments deletes the segment keys of a partition ending at lastOffsets (retention,
// DeleteRecords: segments wholly below the log start), each transaction of at most
// Config.MaxTxnOps deletes fenced on mod_revision(fences/<brokerID>) == fenceRev, so a broker
// that lost the partition deletes nothing. Absent keys are no error. The objects they name
// are deleted by GC once unreferenced for gc.grace.
func (s *Store) DeleteSegments(ctx context.Context, brokerID int32, fenceRev int64, pk PartitionKey, lastOffsets []int64) error {
	fence := s.keys.Fence(brokerID)
	for batch := range slices.Chunk(lastOffsets, s.cfg.MaxTxnOps) {
		var ops []clientv3.Op
		for _, last := range batch {
			ops = append(ops, clientv3.OpDelete(s.keys.Segment(pk.TopicID, pk.Partition, last)))
		}
		resp, err := s.kv.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(fence), "=", fenceRev)).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("cannot delete %d segments of %x-%d: %w", len(batch), pk.TopicID, pk.Partition, err)
		}
		if !resp.Succeeded {
			return fmt.Errorf("cannot delete segments of %x-%d: fence %s moved from %d: %w", pk.TopicID, pk.Partition, fence, fenceRev, ErrFenced)
		}
	}
	return nil
}

// ListSegments returns a partition's segments in offset order (linearizable).
func (s *Store) ListSegments(ctx context.Context, topicID [16]byte, p int32) ([]*metapb.Segment, error) {
	prefix := s.keys.SegmentsPrefix(topicID, p)
	var out []*metapb.Segment
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		seg := &metapb.Segment{}
		if err := proto.Unmarshal(kv.Value, seg); err != nil {
			return fmt.Errorf("cannot decode segment %s: %w", kv.Key, err)
		}
		out = append(out, seg)
		return nil
	})
	return out, err
}

// ListTopicSegments returns the segments of every partition of a topic, each partition's in
// offset order, with one paged linearizable range (a takeover of many partitions of the
// topic reads them at once instead of one request per partition).
func (s *Store) ListTopicSegments(ctx context.Context, topicID [16]byte) (map[int32][]*metapb.Segment, error) {
	prefix := s.keys.TopicSegmentsPrefix(topicID)
	out := map[int32][]*metapb.Segment{}
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		pk, _, err := s.keys.ParseSegment(string(kv.Key))
		if err != nil {
			return err
		}
		seg := &metapb.Segment{}
		if err := proto.Unmarshal(kv.Value, seg); err != nil {
			return fmt.Errorf("cannot decode segment %s: %w", kv.Key, err)
		}
		out[pk.Partition] = append(out[pk.Partition], seg)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list segments under %s: %w", prefix, err)
	}
	return out, nil
}

// ListAllSegmentKeys returns the object keys of every segment of every partition (GC).
func (s *Store) ListAllSegmentKeys(ctx context.Context) (map[string]bool, error) {
	prefix := s.keys.AllSegmentsPrefix()
	out := make(map[string]bool)
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		seg := &metapb.Segment{}
		if err := proto.Unmarshal(kv.Value, seg); err != nil {
			return fmt.Errorf("cannot decode segment %s: %w", kv.Key, err)
		}
		out[seg.Key] = true
		return nil
	})
	return out, err
}

// ListAllCheckpoints returns every partition checkpoint of every topic (GC computes which
// object entries some chain still needs).
func (s *Store) ListAllCheckpoints(ctx context.Context) (map[PartitionKey]*metapb.Checkpoint, error) {
	prefix := s.keys.Root() + "partitions/"
	out := make(map[PartitionKey]*metapb.Checkpoint)
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		pk, err := s.keys.ParsePartition(string(kv.Key))
		if err != nil {
			return err
		}
		cp := &metapb.Checkpoint{}
		if err := proto.Unmarshal(kv.Value, cp); err != nil {
			return fmt.Errorf("cannot decode checkpoint %s: %w", kv.Key, err)
		}
		out[pk] = cp
		return nil
	})
	return out, err
}

// ObjectRef is one objects/ entry with its place in the chain.
type ObjectRef struct {
	Incarnation uint64
	Seq         uint64
	Entry       *metapb.ObjectEntry
}

// ListBrokerObjects returns every objects/<brokerID>/ entry of every incarnation, in key
// order (GC).
func (s *Store) ListBrokerObjects(ctx context.Context, brokerID int32) ([]ObjectRef, error) {
	prefix := s.keys.BrokerObjectsPrefix(brokerID)
	var out []ObjectRef
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		_, inc, seq, err := s.keys.ParseObject(string(kv.Key))
		if err != nil {
			return err
		}
		e := &metapb.ObjectEntry{}
		if err := proto.Unmarshal(kv.Value, e); err != nil {
			return fmt.Errorf("cannot decode object entry %s: %w", kv.Key, err)
		}
		out = append(out, ObjectRef{Incarnation: inc, Seq: seq, Entry: e})
		return nil
	})
	return out, err
}

// rangePaged calls fn for every key in [from, end), reading pages of Store.pageSize keys
// all at the revision of the first page, so the walk is one consistent snapshot.
func (s *Store) rangePaged(ctx context.Context, from, end string, fn func(*mvccpb.KeyValue) error) error {
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(s.pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.kv.Get(ctx, from, opts...)
		if err != nil {
			return fmt.Errorf("cannot read keys %s..%s: %w", from, end, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if err := fn(kv); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// ReplaceSegments swaps segments of a partition for the one log compaction wrote in their
// place (seg, covering their offsets) in one transaction fenced on
// mod_revision(fences/<brokerID>) == fenceRev: the keys of the replaced segments ending at
// lastOffsets are deleted, and seg is put under the key of its last offset (which is the last
// replaced segment's). Repeating it after a lost reply is harmless. At most
// Config.MaxTxnOps-1 segments are replaced at once.
func (s *Store) ReplaceSegments(ctx context.Context, brokerID int32, fenceRev int64, pk PartitionKey, lastOffsets []int64, seg *metapb.Segment) error {
	if len(lastOffsets)+1 > s.cfg.MaxTxnOps {
		return fmt.Errorf("cannot replace %d segments of %x-%d in one transaction of at most %d operations", len(lastOffsets), pk.TopicID, pk.Partition, s.cfg.MaxTxnOps)
	}
	if len(lastOffsets) == 0 || lastOffsets[len(lastOffsets)-1] != seg.LastOffset {
		return fmt.Errorf("BUG: segment ending at %d replaces segments ending at %v", seg.LastOffset, lastOffsets)
	}
	val, err := marshal(seg)
	if err != nil {
		return err
	}
	key := s.keys.Segment(pk.TopicID, pk.Partition, seg.LastOffset)
	ops := []clientv3.Op{clientv3.OpPut(key, string(val))}
	for _, last := range lastOffsets[:len(lastOffsets)-1] {
		ops = append(ops, clientv3.OpDelete(s.keys.Segment(pk.TopicID, pk.Partition, last)))
	}
	fence := s.keys.Fence(brokerID)
	resp, err := s.kv.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(fence), "=", fenceRev)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("cannot replace segments of %x-%d ending at %v: %w", pk.TopicID, pk.Partition, lastOffsets, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("cannot replace segments of %x-%d: fence %s moved from %d: %w", pk.TopicID, pk.Partition, fence, fenceRev, ErrFenced)
	}
	return nil
}
