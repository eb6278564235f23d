package meta

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// GetAssignment returns assignments/<brokerID> and its mod revision: the
// partitions the broker leads, ordered by topic id then partition. An absent
// key is an empty assignment at mod revision 0. The read is linearizable.
func (s *Store) GetAssignment(ctx context.Context, brokerID int32) (*metapb.Assignment, int64, error) {
	key := s.keys.Assignment(brokerID)
	resp, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read assignment %s: %w", key, err)
	}
	return decodeAssignment(resp.Kvs, key)
}

// BumpEpochs increments the leader epoch of every partition in
// assignments/<brokerID> and bumps fences/<brokerID>, in one transaction that
// compares the assignment's mod revision (retried on conflict). A broker calls
// it when it starts, after Register, to take over its partitions as a new
// incarnation. It returns the new assignment and the new fence revision.
func (s *Store) BumpEpochs(ctx context.Context, brokerID int32) (*metapb.Assignment, int64, error) {
	key, fence := s.keys.Assignment(brokerID), s.keys.Fence(brokerID)
	var out *metapb.Assignment
	var fenceRev int64
	err := s.conflictRetry(ctx, fmt.Sprintf("bump epochs of broker %d", brokerID), func() (bool, error) {
		a, modRev, err := s.GetAssignment(ctx, brokerID)
		if err != nil {
			return false, err
		}
		for _, p := range a.Partitions {
			p.LeaderEpoch++
		}
		ops := []clientv3.Op{clientv3.OpPut(fence, "")}
		if modRev != 0 {
			val, err := marshal(a)
			if err != nil {
				return false, fmt.Errorf("cannot encode assignment %s: %w", key, err)
			}
			ops = append(ops, clientv3.OpPut(key, string(val)))
		}
		resp, err := s.kv.Txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(key), "=", modRev),
		).Then(ops...).Commit()
		if err != nil {
			return false, fmt.Errorf("cannot bump epochs of broker %d: %w", brokerID, err)
		}
		if !resp.Succeeded {
			return false, nil
		}
		out, fenceRev = a, resp.Header.Revision
		return true, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, fenceRev, nil
}

// decodeAssignment decodes the result of a get of one assignment key.
func decodeAssignment(kvs []*mvccpb.KeyValue, key string) (*metapb.Assignment, int64, error) {
	a := &metapb.Assignment{}
	if len(kvs) == 0 {
		return a, 0, nil
	}
	if err := proto.Unmarshal(kvs[0].Value, a); err != nil {
		return nil, 0, fmt.Errorf("cannot decode assignment %s: %w", key, err)
	}
	return a, kvs[0].ModRevision, nil
}

// comparePartitionRefs orders assignments by topic id, then partition.
func comparePartitionRefs(a, b *metapb.PartitionRef) int {
	if c := bytes.Compare(a.TopicId, b.TopicId); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// assignPartitions adds partitions [from, to) of topic id at leader epoch 0.
func assignPartitions(a *metapb.Assignment, id []byte, from, to int32) {
	for p := from; p < to; p++ {
		a.Partitions = append(a.Partitions, &metapb.PartitionRef{TopicId: id, Partition: p})
	}
	slices.SortFunc(a.Partitions, comparePartitionRefs)
}

// unassignTopic removes every partition of topic id and reports whether any
// was there.
func unassignTopic(a *metapb.Assignment, id []byte) bool {
	n := len(a.Partitions)
	a.Partitions = slices.DeleteFunc(a.Partitions, func(p *metapb.PartitionRef) bool {
		return bytes.Equal(p.TopicId, id)
	})
	return len(a.Partitions) != n
}
