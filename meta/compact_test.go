package meta

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestRunCompactionCompactsOldHistory: history older than the retention becomes
// unreadable (compacted) while the compactor runs, and current keys stay.
func TestRunCompactionCompactsOldHistory(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.ClusterID(ctx); err != nil {
		t.Fatal(err)
	}
	key := s.keys.Root() + "churn"
	first, err := s.kv.Put(ctx, key, "0")
	if err != nil {
		t.Fatal(err)
	}
	oldRev := first.Header.Revision
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.RunCompaction(cctx, 2*time.Second)
	for i := 0; ctx.Err() == nil; i++ {
		if _, err := s.kv.Put(ctx, key, "x"); err != nil {
			t.Fatal(err)
		}
		_, err := s.kv.Get(ctx, key, clientWithRev(oldRev)...)
		if errors.Is(err, rpctypes.ErrCompacted) {
			resp, err := s.kv.Get(ctx, key)
			if err != nil || len(resp.Kvs) != 1 {
				t.Fatalf("current key unreadable after compaction: %v", err)
			}
			return
		}
		time.Sleep(100 * time.Millisecond) // waiting for the compactor's next tick
	}
	t.Fatalf("revision %d still readable: history was not compacted", oldRev)
}

func clientWithRev(rev int64) []clientv3.OpOption { return []clientv3.OpOption{clientv3.WithRev(rev)} }
