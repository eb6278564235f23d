package meta

import (
	"context"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AllocateProducerIDs reserves n producer ids and returns the first: ids are unique across
// brokers and restarts because each block is taken with a compare-and-swap on
// <prefix>/producer-ids (the next free id). Ids start at 0, as Kafka's do.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("BUG: cannot allocate %d producer ids", n)
	}
	key := s.keys.Root() + "producer-ids"
	var first int64
	err := s.conflictRetry(ctx, "allocate producer ids", func() (bool, error) {
		resp, err := s.kv.Get(ctx, key)
		if err != nil {
			return false, fmt.Errorf("cannot read %s: %w", key, err)
		}
		var modRev int64
		first = 0
		if len(resp.Kvs) == 1 {
			modRev = resp.Kvs[0].ModRevision
			if first, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64); err != nil || first < 0 {
				return false, fmt.Errorf("BUG: %s holds %q, not a producer id", key, resp.Kvs[0].Value)
			}
		}
		txn, err := s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(clientv3.OpPut(key, strconv.FormatInt(first+n, 10))).
			Commit()
		if err != nil {
			return false, fmt.Errorf("cannot allocate producer ids: %w", err)
		}
		return txn.Succeeded, nil
	})
	return first, err
}
