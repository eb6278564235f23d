package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// keepalives failed for the whole TTL, another process registered the same
	// broker id (Replaced), or Close was called. A broker whose session is lost
	// must stop acting as leader.
	Lost <-chan struct{}

	store     *Store
	ttl       time.Duration
	base      time.Time    // monotonic origin of validTo
	validTo   atomic.Int64 // nanoseconds after base until which the lease surely lives
	lost      chan struct{}
	lostOnce  sync.Once
	replaced  atomic.Bool
	cancel    context.CancelFunc // stops the keepalive and watch goroutines
	done      chan struct{}      // closed when the keepalive goroutine exits
	watchDone chan struct{}      // closed when the watch goroutine exits
	closeOnce sync.Once
	closeErr  error
}

// Replaced reports whether the session ended because another process registered the
// same broker id: this process must stop for good rather than register again, or the
// two would fence each other in turn.
func (r *Registration) Replaced() bool { return r.replaced.Load() }

func (r *Registration) markLost() { r.lostOnce.Do(func() { close(r.lost) }) }

// leaseMargin is how much of the TTL a renewal is not counted on: the time between etcd
// renewing the lease and this process learning it (the keepalive's way back), and clock
// rate differences. etcd renews a lease for the TTL when it handles the keepalive, before
// the answer arrives, so the lease lives at least until answer + TTL - that delay.
func leaseMargin(ttl time.Duration) time.Duration { return ttl / 4 }

// TTL is the session lease's time to live.
func (r *Registration) TTL() time.Duration { return r.ttl }

// extend records that the lease was granted or renewed for ttl at or after since.
func (r *Registration) extend(since time.Time, ttl time.Duration) {
	to := int64(since.Sub(r.base) + ttl - leaseMargin(ttl))
	for {
		cur := r.validTo.Load()
		if to <= cur || r.validTo.CompareAndSwap(cur, to) {
			return
		}
	}
}

// Valid reports whether the session lease surely still lives by this process's clock
// (which runs on while the process is paused): the last renewal it learned of, plus the
// TTL less a margin, is still ahead. A process paused or cut off from etcd past that may
// already have lost its partitions to another broker; it must not serve them (not even
// reads, which would show a stale high watermark) until a renewal arrives or Lost closes.
func (r *Registration) Valid() bool {
	select {
	case <-r.lost:
		return false
	default:
	}
	return int64(time.Since(r.base)) < r.validTo.Load()
}

// Register grants a session lease of Config.SessionTTL and, in one
// transaction, puts brokers/<id> bound to it and bumps fences/<id>. Bumping the
// fence fences every earlier incarnation of the same broker id, including one
// that still runs (e.g. a force-deleted pod): its commits get ErrFenced. The
// incarnation is that transaction's revision.
//
// With rejoin set to the lease of this process's previous registration (a
// session it lost), Register only registers if brokers/<id> is absent or still
// bound to that lease, and otherwise returns an error wrapping ErrReplaced: a
// process whose session was lost must not fence a replacement that registered
// meanwhile. (etcd may keep the old key a while: leases are renewed when etcd
// restarts, after the client gave up on them.)
//
// Register starts goroutines, owned by the Registration, that keep the lease
// alive and watch brokers/<id> until Close or the session is lost.
func (s *Store) Register(ctx context.Context, brokerID int32, host string, port int32, rack string, rejoin clientv3.LeaseID) (*Registration, error) {
	return s.RegisterBroker(ctx, &metapb.Broker{Id: brokerID, Host: host, Port: port, Rack: rack}, rejoin)
}

// RegisterBroker is Register with the whole registration, advertised listeners included.
// Incarnation is ignored (it is the registering transaction's revision).
func (s *Store) RegisterBroker(ctx context.Context, info *metapb.Broker, rejoin clientv3.LeaseID) (*Registration, error) {
	brokerID := info.GetId()
	ttl := int64((s.cfg.SessionTTL + time.Second - 1) / time.Second)
	asked := time.Now() // the lease lives at least TTL from here
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
	val, err := marshal(&metapb.Broker{Id: brokerID, Host: info.GetHost(), Port: info.GetPort(), Rack: info.GetRack(), Listeners: info.GetListeners()})
	if err != nil {
		revoke()
		return nil, fmt.Errorf("cannot encode broker %d: %w", brokerID, err)
	}
	brokerKey, fenceKey := s.keys.Broker(brokerID), s.keys.Fence(brokerID)
	put := func(conds ...clientv3.Cmp) (*clientv3.TxnResponse, error) {
		return s.kv.Txn(ctx).If(conds...).Then(
			clientv3.OpPut(brokerKey, string(val), clientv3.WithLease(lease.ID), clientv3.WithPrevKV()),
			clientv3.OpPut(fenceKey, ""),
		).Commit()
	}
	var resp *clientv3.TxnResponse
	if rejoin == 0 {
		resp, err = put()
	} else if resp, err = put(clientv3.Compare(clientv3.LeaseValue(brokerKey), "=", rejoin)); err == nil && !resp.Succeeded {
		resp, err = put(clientv3.Compare(clientv3.CreateRevision(brokerKey), "=", 0))
	}
	if err != nil {
		revoke()
		return nil, fmt.Errorf("cannot register broker %d at %s: %w", brokerID, brokerKey, err)
	}
	if !resp.Succeeded {
		revoke()
		return nil, fmt.Errorf("%s is held by another process: %w", brokerKey, ErrReplaced)
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
		ttl:         time.Duration(ttl) * time.Second,
		base:        asked,
		lost:        lost,
		cancel:      cancel,
		done:        make(chan struct{}),
		watchDone:   make(chan struct{}),
	}
	reg.extend(asked, reg.ttl)
	go reg.keepAlive(kaCtx, ka, log)
	go reg.watch(kaCtx, brokerKey, rev, log)
	log.Info("registered broker", "host", info.GetHost(), "port", info.GetPort(), "listeners", len(info.GetListeners()))
	return reg, nil
}

// keepAlive drains the keepalive responses; the client closes the channel when
// the lease is gone, keepalives failed for the TTL, or kaCtx is cancelled.
func (r *Registration) keepAlive(kaCtx context.Context, ka <-chan *clientv3.LeaseKeepAliveResponse, log *slog.Logger) {
	defer close(r.done)
	defer r.markLost()
	for resp := range ka {
		r.extend(time.Now(), time.Duration(resp.TTL)*time.Second)
	}
	if kaCtx.Err() == nil {
		log.Error("broker session lost: lease expired or was revoked")
	}
}

// watch ends the session when brokers/<id> changes after our registration at rev: a put
// is another process registering the same id (it fenced us, but our own lease lives on,
// so keepalives alone would never tell), a delete is our lease ending. Without it a
// replaced process that takes no writes would serve stale reads indefinitely.
func (r *Registration) watch(ctx context.Context, key string, rev int64, log *slog.Logger) {
	defer close(r.watchDone)
	from := rev + 1
	for ctx.Err() == nil {
		wch := r.store.cli.Watch(clientv3.WithRequireLeader(ctx), key, clientv3.WithRev(from))
		for wr := range wch {
			if err := wr.Err(); err != nil {
				log.Warn("watch of the broker registration failed; checking it directly", "err", err)
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypePut && ev.Kv.ModRevision != rev {
					r.replaced.Store(true)
					log.Error("another process registered this broker id; this incarnation is replaced",
						"new_incarnation", ev.Kv.ModRevision)
				}
				r.markLost()
				return
			}
			from = wr.Header.Revision + 1
		}
		if ctx.Err() != nil {
			return
		}
		// The watch ended (etcd unreachable, compaction): read the key itself, which
		// tells the same, before watching again.
		if r.checkCurrent(ctx, key, log) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// checkCurrent reads brokers/<id> and ends the session (reporting true) if it no longer
// holds this registration.
func (r *Registration) checkCurrent(ctx context.Context, key string, log *slog.Logger) bool {
	resp, err := r.store.kv.Get(ctx, key)
	if err != nil {
		return false // keepalives tell whether the session outlives the outage
	}
	if len(resp.Kvs) == 1 && uint64(resp.Kvs[0].ModRevision) == r.Incarnation {
		return false
	}
	if len(resp.Kvs) == 1 {
		r.replaced.Store(true)
		log.Error("another process registered this broker id; this incarnation is replaced",
			"new_incarnation", resp.Kvs[0].ModRevision)
	}
	r.markLost()
	return true
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
			r.cancel()
			<-r.watchDone
			return
		default:
		}
		r.cancel()
		<-r.done
		<-r.watchDone
		_, err := r.store.cli.Revoke(ctx, r.LeaseID)
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.closeErr = fmt.Errorf("cannot revoke session lease %x of broker %d: %w", int64(r.LeaseID), r.BrokerID, err)
		}
	})
	return r.closeErr
}
