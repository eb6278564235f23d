package meta

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/meta/metapb"
)

// FenceState is what a broker re-reads after a commit failed its fence compare.
type FenceState struct {
	// Assignment is assignments/<id>: the partitions the broker leads now, with epochs.
	Assignment *metapb.Assignment
	// FenceRev is mod_revision(fences/<id>) at the same revision.
	FenceRev int64
	// Current reports whether reg is still the broker's registered incarnation: false when
	// a newer process registered the same id or the session lease is gone. A broker that is
	// not current is a zombie and must stop committing.
	Current bool
}

// ReadFence reads the broker's assignment, fence and registration at one revision
// (linearizable), so a fenced broker can tell "partitions moved" from "I was replaced".
func (s *Store) ReadFence(ctx context.Context, reg *Registration) (*FenceState, error) {
	id := reg.BrokerID
	resp, err := s.kv.Txn(ctx).Then(
		clientv3.OpGet(s.keys.Assignment(id)),
		clientv3.OpGet(s.keys.Fence(id)),
		clientv3.OpGet(s.keys.Broker(id)),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("cannot read fence of broker %d: %w", id, err)
	}
	akey := s.keys.Assignment(id)
	a, _, err := decodeAssignment(resp.Responses[0].GetResponseRange().Kvs, akey)
	if err != nil {
		return nil, err
	}
	st := &FenceState{Assignment: a}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		st.FenceRev = kvs[0].ModRevision
	}
	if kvs := resp.Responses[2].GetResponseRange().Kvs; len(kvs) == 1 {
		st.Current = uint64(kvs[0].ModRevision) == reg.Incarnation && clientv3.LeaseID(kvs[0].Lease) == reg.LeaseID
	}
	return st, nil
}
