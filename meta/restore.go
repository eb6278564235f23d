package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// Reads and writes of `kafscale fsck` (package fsck): whole-cluster listings to compare
// with the bucket, and the one-time restore of a rebuild into an empty prefix.

// ErrNotEmpty means Restore found keys under the prefix: a rebuild never merges into
// existing metadata.
var ErrNotEmpty = errors.New("etcd prefix is not empty")

// ListAllObjects returns every objects/ entry of every broker and incarnation, by broker,
// in key order.
func (s *Store) ListAllObjects(ctx context.Context) (map[int32][]ObjectRef, error) {
	prefix := s.keys.Root() + "objects/"
	out := make(map[int32][]ObjectRef)
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		b, inc, seq, err := s.keys.ParseObject(string(kv.Key))
		if err != nil {
			return err
		}
		e := &metapb.ObjectEntry{}
		if err := proto.Unmarshal(kv.Value, e); err != nil {
			return fmt.Errorf("cannot decode object entry %s: %w", kv.Key, err)
		}
		out[b] = append(out[b], ObjectRef{Incarnation: inc, Seq: seq, Entry: e})
		return nil
	})
	return out, err
}

// ListAllSegments returns every segments/ entry by partition, each partition's in offset
// order.
func (s *Store) ListAllSegments(ctx context.Context) (map[PartitionKey][]*metapb.Segment, error) {
	prefix := s.keys.AllSegmentsPrefix()
	out := make(map[PartitionKey][]*metapb.Segment)
	err := s.rangePaged(ctx, prefix, clientv3.GetPrefixRangeEnd(prefix), func(kv *mvccpb.KeyValue) error {
		pk, _, err := s.keys.ParseSegment(string(kv.Key))
		if err != nil {
			return err
		}
		seg := &metapb.Segment{}
		if err := proto.Unmarshal(kv.Value, seg); err != nil {
			return fmt.Errorf("cannot decode segment %s: %w", kv.Key, err)
		}
		out[pk] = append(out[pk], seg)
		return nil
	})
	return out, err
}

// SampleKeys returns how many keys the prefix holds and the first of them (up to n).
func (s *Store) SampleKeys(ctx context.Context, n int64) (int64, []string, error) {
	resp, err := s.kv.Get(ctx, s.keys.Root(), clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(n))
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read keys under %s: %w", s.keys.Root(), err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return resp.Count, keys, nil
}

// Restored is what a rebuild writes: topics, their partitions' leaders (assignments at the
// leader epochs given), checkpoints and segments, committed group offsets, and the next
// producer id.
type Restored struct {
	Topics      []*metapb.Topic
	Assignments map[int32]*metapb.Assignment
	Checkpoints map[PartitionKey]*metapb.Checkpoint
	Segments    map[PartitionKey][]*metapb.Segment
	Groups      map[string][]GroupOffset
	// NextProducerID is above every producer id of the restored producer states, so a new
	// producer never gets the id of one whose state was restored.
	NextProducerID int64
}

// Restore writes r into the prefix, which must hold no key: the first transaction compares
// that (ErrNotEmpty otherwise) and puts the topics' partitions state; the rest follow in
// transactions of at most Config.MaxTxnOps puts. The transactions are not atomic with each
// other: a restore that fails half-way leaves a prefix that a new rebuild refuses, and must
// be wiped first. No broker may run on the prefix meanwhile.
func (s *Store) Restore(ctx context.Context, r Restored) error {
	var ops []clientv3.Op
	put := func(key string, m proto.Message) error {
		val, err := marshal(m)
		if err != nil {
			return fmt.Errorf("cannot encode %s: %w", key, err)
		}
		ops = append(ops, clientv3.OpPut(key, string(val)))
		return nil
	}
	for pk, cp := range r.Checkpoints {
		if err := put(s.keys.Partition(pk.TopicID, pk.Partition), cp); err != nil {
			return err
		}
	}
	for pk, segs := range r.Segments {
		for _, seg := range segs {
			if err := put(s.keys.Segment(pk.TopicID, pk.Partition, seg.LastOffset), seg); err != nil {
				return err
			}
		}
	}
	for id, a := range r.Assignments {
		sortPartitionRefs(a)
		if err := put(s.keys.Assignment(id), a); err != nil {
			return err
		}
	}
	// Topics last: a broker started early serves a topic only once it exists, by then
	// with its checkpoints and segments in place.
	for _, t := range r.Topics {
		if err := put(s.keys.Topic(t.Name), t); err != nil {
			return err
		}
	}
	ops = append(ops, clientv3.OpPut(s.keys.Root()+"producer-ids", strconv.FormatInt(r.NextProducerID, 10)))
	for i, batch := 0, ops; len(batch) > 0; i++ {
		n := min(len(batch), s.cfg.MaxTxnOps)
		txn := s.kv.Txn(ctx)
		if i == 0 {
			txn = txn.If(clientv3.Compare(clientv3.CreateRevision(s.keys.Root()), "=", 0).WithPrefix())
		}
		resp, err := txn.Then(batch[:n]...).Commit()
		if err != nil {
			return fmt.Errorf("cannot restore metadata under %s: %w", s.keys.Root(), err)
		}
		if !resp.Succeeded {
			return fmt.Errorf("cannot restore metadata under %s: %w", s.keys.Root(), ErrNotEmpty)
		}
		batch = batch[n:]
	}
	groups := make([]string, 0, len(r.Groups))
	for g := range r.Groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		if err := s.CommitOffsets(ctx, g, r.Groups[g]); err != nil {
			return fmt.Errorf("cannot restore offsets of group %q: %w", g, err)
		}
	}
	return nil
}
