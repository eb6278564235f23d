package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/meta/metapb"
)

// Registration is one incarnation of a broker: its session lease and the
// fence revision its registration set. Fields are read-only after Register.
type Registration struct {
	// BrokerID is the broker's id.
	BrokerID int32
	// Incarnation is the revision of the registering transaction: unique and
	// increasing across the broker's restarts. It names the broker's objects/
	// keys and flush objects.
	Incarnation uint64
	// FenceRev is mod_revision(fences/<id>) right after registration (equal to
	// Incarnation). Commits compare against it until the fence moves again.
	FenceRev int64
	// LeaseID is the session lease that brokers/<id> is bound to.
	LeaseID clientv3.LeaseID
	// Lost is closed when the session ends: the lease expired or was revoked,
	// keepalives failed for the whole TTL, or Close was called. A broker whose
	// session is lost must stop acting as leader.
	Lost <-chan struct{}

	store     *Store
	cancel    context.CancelFunc // stops the keepalive goroutine
	done      chan struct{}      // closed when the keepalive goroutine exits
	closeOnce sync.Once
	closeErr  error
}

// Register grants a session lease of Config.SessionTTL and, in one
// transaction, puts brokers/<id> bound to it and bumps fences/<id>. Bumping the
// fence fences every earlier incarnation of the same broker id, including one
// that still runs (e.g. a force-deleted pod): its commits get ErrFenced. The
// incarnation is that transaction's revision.
//
// Register starts a goroutine, owned by the Registration, that keeps the lease
// alive until Close or the lease is lost.
func (s *Store) Register(ctx context.Context, brokerID int32, host string, port int32, rack string) (*Registration, error) {
	ttl := int64((s.cfg.SessionTTL + time.Second - 1) / time.Second)
	lease, err := s.cli.Grant(ctx, ttl)
	if err != nil {
		return nil, fmt.Errorf("cannot grant session lease for broker %d: %w", brokerID, err)
	}
	revoke := func() {
		// Best effort: an orphaned lease expires by itself after the TTL.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = s.cli.Revoke(rctx, lease.ID)
	}
	val, err := marshal(&metapb.Broker{Id: brokerID, Host: host, Port: port, Rack: rack})
	if err != nil {
		revoke()
		return nil, fmt.Errorf("cannot encode broker %d: %w", brokerID, err)
	}
	brokerKey, fenceKey := s.keys.Broker(brokerID), s.keys.Fence(brokerID)
	resp, err := s.kv.Txn(ctx).Then(
		clientv3.OpPut(brokerKey, string(val), clientv3.WithLease(lease.ID), clientv3.WithPrevKV()),
		clientv3.OpPut(fenceKey, ""),
	).Commit()
	if err != nil {
		revoke()
		return nil, fmt.Errorf("cannot register broker %d at %s: %w", brokerID, brokerKey, err)
	}
	rev := resp.Header.Revision
	log := s.log.With("broker", brokerID, "incarnation", rev, "lease", fmt.Sprintf("%x", int64(lease.ID)))
	if prev := resp.Responses[0].GetResponsePut().GetPrevKv(); prev != nil {
		// A live previous incarnation keeps running until it notices ErrFenced.
		log.Warn("fenced a previous incarnation that still held a session",
			"previous_incarnation", prev.ModRevision, "previous_lease", fmt.Sprintf("%x", prev.Lease))
	}

	kaCtx, cancel := context.WithCancel(context.Background())
	ka, err := s.cli.KeepAlive(kaCtx, lease.ID)
	if err != nil {
		cancel()
		revoke()
		return nil, fmt.Errorf("cannot keep session lease of broker %d alive: %w", brokerID, err)
	}
	lost := make(chan struct{})
	reg := &Registration{
		BrokerID:    brokerID,
		Incarnation: uint64(rev),
		FenceRev:    rev,
		LeaseID:     lease.ID,
		Lost:        lost,
		store:       s,
		cancel:      cancel,
		done:        make(chan struct{}),
	}
	go reg.keepAlive(kaCtx, ka, lost, log)
	log.Info("registered broker", "host", host, "port", port)
	return reg, nil
}

// keepAlive drains the keepalive responses; the client closes the channel when
// the lease is gone, keepalives failed for the TTL, or kaCtx is cancelled.
func (r *Registration) keepAlive(kaCtx context.Context, ka <-chan *clientv3.LeaseKeepAliveResponse, lost chan struct{}, log *slog.Logger) {
	defer close(r.done)
	defer close(lost)
	for range ka {
	}
	if kaCtx.Err() == nil {
		log.Error("broker session lost: lease expired or was revoked")
	}
}

// Close stops the keepalive and revokes the lease, which deletes brokers/<id>.
// It does not touch the fence. A session already lost is not an error.
// Safe to call more than once.
func (r *Registration) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		select {
		case <-r.done:
			// The lease is gone already (or expires by itself within the
			// TTL if etcd was unreachable): nothing to revoke.
			return
		default:
		}
		r.cancel()
		<-r.done
		_, err := r.store.cli.Revoke(ctx, r.LeaseID)
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.closeErr = fmt.Errorf("cannot revoke session lease %x of broker %d: %w", int64(r.LeaseID), r.BrokerID, err)
		}
	})
	return r.closeErr
}
