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

// reconcile moves every partition assigned to a broker that is not registered to the live
// broker leading the fewest partitions (ties: the lowest id).
func (c *controller) reconcile(ctx context.Context, st *meta.ClusterState) error {
	if len(st.Brokers) == 0 {
		return nil
	}
	live := make([]int32, 0, len(st.Brokers))
	load := make(map[int32]int)
	for id := range st.Brokers {
		live = append(live, id)
		load[id] = len(st.Assignments[id].GetPartitions())
	}
	slices.Sort(live)
	owners := make([]int32, 0, len(st.Assignments))
	for id := range st.Assignments {
		owners = append(owners, id)
	}
	slices.Sort(owners)
	var moves []meta.Move
	for _, id := range owners {
		if _, ok := st.Brokers[id]; ok {
			continue
		}
		for _, r := range st.Assignments[id].GetPartitions() {
			to := slices.MinFunc(live, func(a, b int32) int {
				return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(a, b))
			})
			load[to]++
			moves = append(moves, meta.Move{TopicID: [16]byte(r.TopicId), Partition: r.Partition, From: id, To: to})
		}
	}
	if len(moves) == 0 {
		return nil
	}
	start := time.Now()
	ok, err := c.store.MovePartitions(ctx, c.key, c.rev, st, moves)
	if err != nil || !ok {
		return err // !ok: an assignment changed meanwhile; the watch brings the new state
	}
	partitionMoves.Add(len(moves))
	c.log.Info("moved the partitions of gone brokers", "partitions", len(moves), "took", time.Since(start))
	return nil
}
