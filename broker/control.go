package broker

// Drain, undrain and status: what BrokerControl (package control) and a stopping broker
// ask of the cluster (docs/cluster.md, "Drain").

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

var (
	// ErrNowhereToDrain: no other live broker that is not draining itself could take the
	// partitions.
	ErrNowhereToDrain = errors.New("no other broker serves: there is nowhere to move its partitions")
	// ErrUnknownBroker: the broker id is not registered (not running, or its lease expired;
	// a broker whose lease expired has its partitions moved anyway).
	ErrUnknownBroker = errors.New("broker is not registered")
)

// DrainResult is what a finished drain moved.
type DrainResult struct {
	Partitions, Slots int
	Took              time.Duration
}

// DrainBroker marks broker id draining, which the controller answers by moving its
// partitions and group coordinator slots to the other brokers at once and placing nothing
// new on it, and waits until its assignment is empty or ctx ends (the mark stays: the moves
// go on). The drained broker keeps serving what it still leads meanwhile, so clients follow
// the partitions as they move. The mark is cleared by UndrainBroker or when the broker
// registers again.
func (b *Broker) DrainBroker(ctx context.Context, id int32) (DrainResult, error) {
	st := b.view.Load()
	if st == nil {
		st2, err := b.meta.ReadCluster(ctx)
		if err != nil {
			return DrainResult{}, err
		}
		st = st2
	}
	if _, ok := st.Brokers[id]; !ok {
		return DrainResult{}, fmt.Errorf("cannot drain broker %d: %w", id, ErrUnknownBroker)
	}
	others := 0
	for o := range st.Brokers {
		if o != id && !st.Draining[o] {
			others++
		}
	}
	if others == 0 {
		return DrainResult{}, fmt.Errorf("cannot drain broker %d: %w", id, ErrNowhereToDrain)
	}
	res := DrainResult{
		Partitions: countPartitions(st.Assignments[id], false),
		Slots:      countPartitions(st.Assignments[id], true),
	}
	if err := b.meta.SetDraining(ctx, id, true); err != nil {
		return DrainResult{}, err
	}
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if st := b.view.Load(); st != nil && st.Draining[id] && len(st.Assignments[id].GetPartitions()) == 0 {
			res.Took = time.Since(start)
			b.log.Info("drained: every partition and coordinator slot moved to other brokers",
				"broker", id, "partitions", res.Partitions, "slots", res.Slots, "took", res.Took)
			return res, nil
		}
		select {
		case <-ctx.Done():
			return DrainResult{}, fmt.Errorf("cannot drain broker %d: %w", id, ctx.Err())
		case <-b.ctx.Done():
			return DrainResult{}, fmt.Errorf("cannot drain broker %d: this broker stopped", id)
		case <-tick.C:
		}
	}
}

// DrainSelf drains this broker before it stops (kafscale broker on SIGTERM); with no other
// broker serving there is nowhere to drain to, and it returns at once.
func (b *Broker) DrainSelf(ctx context.Context) error {
	_, err := b.DrainBroker(ctx, b.cfg.NodeID)
	if errors.Is(err, ErrNowhereToDrain) {
		return nil
	}
	return err
}

// UndrainBroker clears broker id's draining mark: the controller gives it partitions again,
// at its bounded rate of moves.
func (b *Broker) UndrainBroker(ctx context.Context, id int32) error {
	return b.meta.SetDraining(ctx, id, false)
}

// Status describes this broker for BrokerControl's Status.
type Status struct {
	BrokerID         int32
	ClusterID        string
	Draining         bool
	PartitionsLed    int
	CoordinatorSlots int
	PendingBytes     int64
	Controller       int32 // -1: none elected
	LiveBrokers      []int32
}

// Status returns this broker's status; readiness is the caller's (it knows more than the
// broker, such as etcd alarms).
func (b *Broker) Status() Status {
	s := Status{BrokerID: b.cfg.NodeID, ClusterID: b.clusterID, Controller: -1, PendingBytes: b.flusher.PendingBytes()}
	b.mu.RLock()
	for _, t := range b.topics {
		for _, ps := range t.parts {
			if ps != nil && ps.log.Leader() {
				s.PartitionsLed++
			}
		}
	}
	b.mu.RUnlock()
	if st := b.view.Load(); st != nil {
		s.Draining = st.Draining[b.cfg.NodeID]
		s.CoordinatorSlots = countPartitions(st.Assignments[b.cfg.NodeID], true)
		s.Controller = st.Controller
		for id := range st.Brokers {
			s.LiveBrokers = append(s.LiveBrokers, id)
		}
		slices.Sort(s.LiveBrokers)
	}
	return s
}
