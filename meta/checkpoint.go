package meta

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// GetCheckpoint returns partitions/<topic-id>/<p>, or nil and no error when the
// partition has none (an empty partition). The read is linearizable, as
// takeover requires.
func (s *Store) GetCheckpoint(ctx context.Context, topicID [16]byte, p int32) (*metapb.Checkpoint, error) {
	key := s.keys.Partition(topicID, p)
	resp, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("cannot read checkpoint %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	cp := &metapb.Checkpoint{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, cp); err != nil {
		return nil, fmt.Errorf("cannot decode checkpoint %s: %w", key, err)
	}
	return cp, nil
}

// ListCheckpoints returns every checkpoint of a topic by partition, with one
// linearizable range read (takeover of many partitions of one topic).
func (s *Store) ListCheckpoints(ctx context.Context, topicID [16]byte) (map[int32]*metapb.Checkpoint, error) {
	prefix := s.keys.TopicPartitionsPrefix(topicID)
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cannot list checkpoints under %s: %w", prefix, err)
	}
	out := make(map[int32]*metapb.Checkpoint, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		pk, err := s.keys.ParsePartition(string(kv.Key))
		if err != nil {
			return nil, err
		}
		cp := &metapb.Checkpoint{}
		if err := proto.Unmarshal(kv.Value, cp); err != nil {
			return nil, fmt.Errorf("cannot decode checkpoint %s: %w", kv.Key, err)
		}
		out[pk.Partition] = cp
	}
	return out, nil
}

// PutCheckpoints writes checkpoints in transactions of at most
// Config.MaxTxnOps puts each, every one fenced on
// mod_revision(fences/<brokerID>) == fenceRev. Transactions are not atomic
// with each other: on ErrFenced (wrapped, naming both revisions) the earlier
// batches are written and the rest are not. Each checkpoint stands alone, so a
// partial write is as valid as a stale one.
func (s *Store) PutCheckpoints(ctx context.Context, brokerID int32, fenceRev int64, cps map[PartitionKey]*metapb.Checkpoint) error {
	keys := make([]PartitionKey, 0, len(cps))
	for pk := range cps {
		keys = append(keys, pk)
	}
	// Sorted, so that a fenced writer's partial progress is predictable.
	slices.SortFunc(keys, func(a, b PartitionKey) int {
		if c := cmp.Compare(string(a.TopicID[:]), string(b.TopicID[:])); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	fence := s.keys.Fence(brokerID)
	for batch := range slices.Chunk(keys, s.cfg.MaxTxnOps) {
		ops := make([]clientv3.Op, 0, len(batch))
		for _, pk := range batch {
			val, err := marshal(cps[pk])
			if err != nil {
				return fmt.Errorf("cannot encode checkpoint %s: %w", pk, err)
			}
			ops = append(ops, clientv3.OpPut(s.keys.Partition(pk.TopicID, pk.Partition), string(val)))
		}
		resp, err := s.kv.Txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(fence), "=", fenceRev),
		).Then(ops...).Else(
			clientv3.OpGet(fence),
		).Commit()
		if err != nil {
			return fmt.Errorf("cannot write %d checkpoints of broker %d: %w", len(batch), brokerID, err)
		}
		if !resp.Succeeded {
			current := "absent"
			if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
				current = strconv.FormatInt(kvs[0].ModRevision, 10)
			}
			return fmt.Errorf("cannot write %d checkpoints of broker %d: fence %s moved from revision %d to %s: %w",
				len(batch), brokerID, fence, fenceRev, current, ErrFenced)
		}
	}
	return nil
}
