package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/ctrl"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/group"
	"github.com/kafscale/kafscale/lifecycle"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/quota"
	"github.com/kafscale/kafscale/segment"
	"github.com/kafscale/kafscale/topicmetrics"
)

// Open registers this broker incarnation in etcd (fencing any previous one), bumps the leader
// epoch of every partition it is assigned, takes them over from their checkpoints and the
// flush objects' footers, and returns a broker ready to serve.
func Open(ctx context.Context, cfg Config, d Deps) (_ *Broker, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{err}
	}
	topicmetrics.Configure(cfg.TopicMetrics)
	cfg.Partition.Tails, _ = partition.NewTailBudget(cfg.TailTotalBytes) // checked by Validate
	b := &Broker{
		cfg: cfg, log: d.Log, meta: d.Meta, store: d.Store, cache: d.Cache, clusterID: d.ClusterID,
		topics: make(map[string]*topic), byID: make(map[[16]byte]*topic),
		gone:    make(map[flush.PartitionID]uint64),
		ledHook: d.LedPartitions, sasl: d.SASL, authz: d.Authorizer,
		quotaRates: make(map[string]*quota.Tracker),
	}
	for _, k := range []string{quota.ProducerByteRate, quota.ConsumerByteRate, quota.RequestPercentage} {
		b.quotaRates[k], _ = quota.NewTracker(cfg.Quota.Samples, cfg.Quota.Window) // checked by Validate
	}
	// Kafka bounds a request-quota throttle to one window (ClientRequestQuotaManager).
	b.quotaRates[quota.RequestPercentage].SetMaxThrottle(cfg.Quota.Window)
	reg, err := d.Meta.RegisterBroker(ctx, &metapb.Broker{Id: cfg.NodeID, Host: cfg.AdvertisedHost, Port: cfg.AdvertisedPort, Listeners: cfg.Listeners}, clientv3.LeaseID(cfg.Rejoin))
	if errors.Is(err, meta.ErrReplaced) {
		return nil, &ConfigError{fmt.Errorf("cannot register broker %d again: %w", cfg.NodeID, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot register broker %d: %w", cfg.NodeID, err)
	}
	b.reg = reg
	b.jobs = lifecycle.New(cfg.Merge, lifecycle.Deps{Meta: d.Meta, Store: d.Store, Reg: reg, NodeID: cfg.NodeID,
		Host: jobsHost{b}, Log: d.Log})
	// A drain mark left by this broker's previous process (it drained before stopping)
	// ends now: the broker serves again and the controller rebalances onto it.
	if err := d.Meta.SetDraining(ctx, cfg.NodeID, false); err != nil {
		_ = reg.Close(ctx)
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		// Leave nothing running behind a failed open: a retry registers anew.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if b.flusher != nil {
			_ = b.flusher.Close(cctx)
			b.cancel()
		}
		_ = reg.Close(cctx)
	}()
	assignment, fenceRev, err := d.Meta.BumpEpochs(ctx, cfg.NodeID)
	if err != nil {
		return nil, fmt.Errorf("cannot bump leader epochs of broker %d: %w", cfg.NodeID, err)
	}
	b.fenceRev.Store(fenceRev)
	keyFn := func() string { return segment.FlushKey(cfg.NodeID, reg.Incarnation, time.Now()) }
	fcfg := d.Flush
	fcfg.MaxCommitDelay = cfg.Merge.GCGrace / 2
	b.flusher = flush.New(fcfg, d.Store, committer{b}, keyFn, d.Log.With("component", "flush"))
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.requests, b.endRequests = context.WithCancel(b.ctx)
	b.groups = group.New(cfg.Group, groupStore{b}, groupTopics{b}, d.Log.With("component", "group"))
	b.groups.SetOwnership(b.ownsGroup)

	topics, err := d.Meta.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list topics: %w", err)
	}
	byID := make(map[[16]byte]*metapb.Topic, len(topics))
	for _, t := range topics {
		byID[[16]byte(t.Id)] = t
	}
	led := make(map[[16]byte][]*metapb.PartitionRef)
	for _, ref := range assignment.GetPartitions() {
		if isSlot(ref) {
			continue // a group coordinator slot, not a partition
		}
		id := [16]byte(ref.TopicId)
		led[id] = append(led[id], ref)
	}
	tk := newTakeover(b)
	for id, refs := range led {
		t, ok := byID[id]
		if !ok {
			b.log.Warn("assignment names a topic that no longer exists", "topic_id", fmt.Sprintf("%x", id))
			continue
		}
		if err := tk.add(ctx, t, refs); err != nil {
			return nil, err
		}
	}
	taken := tk.pending()
	if err := tk.commit(ctx); err != nil {
		return nil, err
	}
	b.logTaken(taken)
	// Every topic of the cluster, with the partitions led elsewhere left nil.
	for _, t := range topics {
		b.upsertTopic(t)
	}
	b.refreshView(ctx)
	if b.authz != nil {
		if err := b.loadACLs(ctx); err != nil {
			return nil, err
		}
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.watchACLs() }()
	}
	if err := b.loadQuotas(ctx); err != nil {
		return nil, err
	}
	b.wg.Add(4)
	go func() { defer b.wg.Done(); b.watchQuotas() }()
	go func() { defer b.wg.Done(); b.watchTopics() }()
	go func() { defer b.wg.Done(); b.watchCluster() }()
	go func() {
		defer b.wg.Done()
		ctrl.Run(b.ctx, d.Meta, reg.LeaseID, cfg.NodeID, d.Log.With("component", "controller"))
	}()
	b.waitSlots(10 * time.Second)
	b.wg.Add(1)
	go func() {
		// A lost session (lease gone, or another process registered this broker id) ends
		// every leadership at once, so no stale high watermark is served meanwhile.
		defer b.wg.Done()
		select {
		case <-reg.Lost:
			why := "this broker incarnation lost its etcd session"
			if reg.Replaced() {
				why = "another process registered this broker id"
			}
			b.stopServing(why)
		case <-b.ctx.Done():
		}
	}()
	b.jobs.Start(b.ctx, lifecycle.Intervals{Checkpoint: cfg.CheckpointInterval, Retention: cfg.RetentionCheckInterval})
	loads := newLoadReporter(b)
	b.every(cfg.LoadReportInterval, loads.report)
	b.every(cfg.Group.OffsetsRetentionCheckInterval, b.expireOffsetsOnce)
	b.runBucketMetadataSync()
	b.runLag()
	b.noteLed()
	if n := b.countLedPartitions(); n > int64(cfg.MaxPartitions) {
		b.log.Warn("this broker leads more partitions than --max-partitions; it creates no more until some are deleted", "partitions", n, "max_partitions", cfg.MaxPartitions)
	}
	b.ready.Store(true)
	b.mu.RLock()
	nTopics := len(b.topics) // the topic watch writes it from now on
	b.mu.RUnlock()
	b.log.Info("broker serving", "node_id", cfg.NodeID, "incarnation", reg.Incarnation, "topics", nTopics, "partitions", len(assignment.GetPartitions()))
	return b, nil
}

// ConfigError is a configuration Open cannot work with; retrying does not help.
type ConfigError struct{ error }

func (e *ConfigError) Unwrap() error { return e.error }

// SessionLost is closed when this incarnation's etcd session ends; the broker must then be
// closed, and a new incarnation opened unless Replaced.
func (b *Broker) SessionLost() <-chan struct{} { return b.reg.Lost }

// Lease returns the session lease of this incarnation's registration.
func (b *Broker) Lease() int64 { return int64(b.reg.LeaseID) }

// Replaced reports whether the session ended because another process registered this
// broker id.
func (b *Broker) Replaced() bool { return b.reg.Replaced() }

// Health returns why the broker cannot currently make data durable ("" when it can).
func (b *Broker) Health() string { return b.flusher.Health() }

// Drain cuts the open flush and waits until everything appended so far is committed, so
// producers waiting for acks get them before the listener stops.
func (b *Broker) Drain(ctx context.Context) error {
	fl := b.flusher.Flush()
	if fl == nil {
		return nil
	}
	select {
	case <-fl.Done():
	case <-ctx.Done():
		return fmt.Errorf("cannot drain pending data: %w", ctx.Err())
	}
	return nil
}

// Close flushes pending data, writes final checkpoints and releases the registration. The
// network listener must be stopped first so no new produce arrives.
func (b *Broker) Close(ctx context.Context) error {
	b.ready.Store(false)
	b.groups.Close()
	ferr := b.flusher.Close(ctx)
	b.cancel()
	b.wg.Wait()
	b.jobs.Wait()
	cerr := b.jobs.WriteCheckpoints(ctx, true)
	rerr := b.reg.Close(ctx)
	return errors.Join(ferr, cerr, rerr)
}

// every runs f every interval on a goroutine of its own until the broker closes.
func (b *Broker) every(interval time.Duration, f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.ctx.Done():
				return
			case <-t.C:
				f()
			}
		}
	}()
}

// expireOffsetsOnce deletes expired committed offsets (every
// offsets.retention.check.interval).
func (b *Broker) expireOffsetsOnce() {
	if _, err := b.groups.ExpireOffsets(b.ctx); err != nil && b.ctx.Err() == nil {
		b.log.Warn("cannot expire committed offsets", "err", err)
	}
}
