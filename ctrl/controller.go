// Package ctrl is KafScale's control plane: one broker, elected through etcd, assigns
// partition leadership (DESIGN.md, "Cluster"; docs/cluster.md). Today it moves the
// partitions of brokers that are gone (their registration's lease ended) to live brokers,
// each at its leader epoch plus one, in one transaction that also compares the controller's
// election key and bumps the fences of the brokers losing partitions, so a deposed
// controller cannot assign and a zombie leader cannot commit.
//
// Goroutines: Run owns its campaign and reconcile loop; it reads cluster states from
// meta.Store.WatchCluster and writes only through meta.Store.MovePartitions.
package ctrl

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

var (
	partitionMoves = metrics.NewCounter(`kafscale_controller_partition_moves_total`)
	elections      = metrics.NewCounter(`kafscale_controller_elections_won_total`)
)

// Run campaigns for controller on the broker's session lease (so leadership ends with the
// broker's registration) and, while elected, moves the partitions of gone brokers to live
// ones. It returns when ctx ends or the lease is gone.
func Run(ctx context.Context, store *meta.Store, lease clientv3.LeaseID, nodeID int32, log *slog.Logger) {
	sess, err := concurrency.NewSession(store.Client(), concurrency.WithLease(lease), concurrency.WithContext(ctx))
	if err != nil {
		if ctx.Err() == nil {
			log.Error("cannot start the controller election session", "err", err)
		}
		return
	}
	// Orphan, never Close: closing would revoke the lease, which is the broker's
	// registration.
	defer sess.Orphan()
	e := concurrency.NewElection(sess, strings.TrimSuffix(store.Keys().ControllerPrefix(), "/"))
	if err := e.Campaign(ctx, strconv.Itoa(int(nodeID))); err != nil {
		if ctx.Err() == nil {
			log.Error("cannot campaign for controller", "err", err)
		}
		return
	}
	elections.Inc()
	log.Info("elected controller", "node_id", nodeID)
	c := &controller{store: store, key: e.Key(), rev: e.Rev(), log: log}
	for st := range store.WatchCluster(ctx) {
		if err := c.reconcile(ctx, st); err != nil {
			if errors.Is(err, meta.ErrNotController) {
				log.Warn("no longer the controller", "err", err)
				return
			}
			if ctx.Err() == nil {
				log.Warn("cannot reconcile partition leadership", "err", err)
			}
		}
		select {
		case <-sess.Done():
			return
		default:
		}
	}
}

type controller struct {
	store *meta.Store
	key   string // election key
	rev   int64  // its create revision
	log   *slog.Logger
}

// reconcile places the group coordinator slots nobody holds, and moves every partition and
// slot assigned to a broker that is not registered, each to the live broker holding the
// fewest (ties: the lowest id).
func (c *controller) reconcile(ctx context.Context, st *meta.ClusterState) error {
	if len(st.Brokers) == 0 {
		return nil
	}
	live := make([]int32, 0, len(st.Brokers))
	// Partitions and coordinator slots are balanced each on its own count.
	load := map[bool]map[int32]int{false: {}, true: {}}
	for id := range st.Brokers {
		live = append(live, id)
		for _, r := range st.Assignments[id].GetPartitions() {
			load[isSlot(r)][id]++
		}
	}
	slices.Sort(live)
	owners := make([]int32, 0, len(st.Assignments))
	for id := range st.Assignments {
		owners = append(owners, id)
	}
	slices.Sort(owners)
	pick := func(slot bool) int32 {
		l := load[slot]
		to := slices.MinFunc(live, func(a, b int32) int {
			return cmp.Or(cmp.Compare(l[a], l[b]), cmp.Compare(a, b))
		})
		l[to]++
		return to
	}
	// Group coordinator slots nobody holds yet (a new cluster) are placed like partitions.
	held := make(map[int32]bool)
	for _, a := range st.Assignments {
		for _, r := range a.GetPartitions() {
			if isSlot(r) {
				held[r.Partition] = true
			}
		}
	}
	var moves []meta.Move
	for slot := range int32(meta.GroupSlots) {
		if !held[slot] {
			moves = append(moves, meta.Move{TopicID: meta.GroupSlotsTopicID, Partition: slot, From: -1, To: pick(true)})
		}
	}
	for _, id := range owners {
		if _, ok := st.Brokers[id]; ok {
			continue
		}
		for _, r := range st.Assignments[id].GetPartitions() {
			moves = append(moves, meta.Move{TopicID: [16]byte(r.TopicId), Partition: r.Partition, From: id, To: pick(isSlot(r))})
		}
	}
	moves = append(moves, balanceSlots(st, live, load[true])...)
	if len(moves) == 0 {
		return nil
	}
	start := time.Now()
	ok, err := c.store.MovePartitions(ctx, c.key, c.rev, st, moves)
	if err != nil || !ok {
		return err // !ok: an assignment changed meanwhile; the watch brings the new state
	}
	partitionMoves.Add(len(moves))
	c.log.Info("placed or moved partitions and coordinator slots", "moves", len(moves), "took", time.Since(start))
	return nil
}

// isSlot reports whether an assignment entry is a group coordinator slot.
func isSlot(r *metapb.PartitionRef) bool { return [16]byte(r.TopicId) == meta.GroupSlotsTopicID }

// balanceSlots moves group coordinator slots from the live brokers holding the most to
// those holding the fewest until they differ by at most one (load counts slots after the
// moves already planned). A slot moves without data (its groups' members rejoin at the new
// coordinator, offsets stay in etcd), so a broker that joins gets its share at once, and
// the first broker of a new cluster does not keep every group.
func balanceSlots(st *meta.ClusterState, live []int32, load map[int32]int) []meta.Move {
	if len(live) < 2 {
		return nil
	}
	movable := make(map[int32][]int32) // live broker -> slots it holds now
	for _, id := range live {
		for _, r := range st.Assignments[id].GetPartitions() {
			if isSlot(r) {
				movable[id] = append(movable[id], r.Partition)
			}
		}
	}
	var moves []meta.Move
	for {
		most := slices.MaxFunc(live, func(a, b int32) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(b, a)) })
		least := slices.MinFunc(live, func(a, b int32) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(a, b)) })
		if load[most]-load[least] <= 1 || len(movable[most]) == 0 {
			return moves
		}
		slot := movable[most][len(movable[most])-1]
		movable[most] = movable[most][:len(movable[most])-1]
		moves = append(moves, meta.Move{TopicID: meta.GroupSlotsTopicID, Partition: slot, From: most, To: least})
		load[most]--
		load[least]++
	}
}
