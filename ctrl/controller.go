// Package ctrl is KafScale's control plane: one broker, elected through etcd, assigns
// partition leadership (DESIGN.md, "Cluster"; docs/cluster.md). It moves the partitions of
// brokers that are gone (their registration's lease ended) or draining to serving brokers,
// places group coordinator slots, and balances partitions by count and then by recent bytes
// in (bytes.go). Every move is at the partition's leader epoch plus one, in one transaction
// that also compares the controller's election key and bumps the fences of the brokers
// losing partitions, so a deposed controller cannot assign and a zombie leader cannot
// commit.
//
// Goroutines: Run owns its campaign and reconcile loop; it reads cluster states from
// meta.Store.WatchCluster and load reports with meta.Store.ReadLoads, and writes only
// through meta.Store.MovePartitions.
package ctrl

import (
	"cmp"
	"context"
	"encoding/hex"
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
	bytesMoves     = metrics.NewCounter(`kafscale_controller_bytes_in_moves_total`)
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
	c := &controller{store: store, key: e.Key(), rev: e.Rev(), log: log, tokens: RebalanceMovesPerMinute,
		bytesMoved: make(map[meta.PartitionKey]time.Time)}
	states := store.WatchCluster(ctx)
	// A tick brings rate-limited rebalancing forward when no state change arrives.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var st *meta.ClusterState
	for {
		select {
		case next, ok := <-states:
			if !ok {
				return
			}
			st = next
		case <-tick.C:
			c.refill()
			if st == nil {
				continue
			}
		case <-sess.Done():
			return
		}
		if err := c.reconcile(ctx, st); err != nil {
			if errors.Is(err, meta.ErrNotController) {
				log.Warn("no longer the controller", "err", err)
				return
			}
			if ctx.Err() == nil {
				log.Warn("cannot reconcile partition leadership", "err", err)
			}
		}
	}
}

// RebalanceMovesPerMinute bounds the partitions the controller moves to even out the load
// (onto a new or restarted broker): each move makes the partition's producers and
// consumers wait for a takeover, so they are spread out. Failover and drain moves are not
// bounded: those partitions have no leader, or must leave.
const RebalanceMovesPerMinute = 60

type controller struct {
	store  *meta.Store
	key    string // election key
	rev    int64  // its create revision
	log    *slog.Logger
	tokens int // rebalancing moves allowed now; refilled every second

	rates      map[meta.PartitionKey]int64     // bytes in per second, from the load reports
	ratesAt    time.Time                       // when rates were read
	bytesMoved map[meta.PartitionKey]time.Time // partitions moved for bytes, and when
}

func (c *controller) refill() {
	c.tokens = min(c.tokens+max(RebalanceMovesPerMinute/60, 1), RebalanceMovesPerMinute)
}

// reconcile places the group coordinator slots nobody holds; moves every partition and
// slot of a broker that is gone or draining to the serving broker holding the fewest (ties:
// the lowest id); and evens out partitions (within the rebalancing budget) and slots over
// the serving brokers.
func (c *controller) reconcile(ctx context.Context, st *meta.ClusterState) error {
	var live []int32 // serving: registered and not draining
	// Partitions and coordinator slots are balanced each on its own count.
	load := map[bool]map[int32]int{false: {}, true: {}}
	for id := range st.Brokers {
		if st.Draining[id] {
			continue
		}
		live = append(live, id)
		for _, r := range st.Assignments[id].GetPartitions() {
			load[isSlot(r)][id]++
		}
	}
	if len(live) == 0 {
		return nil
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
		if _, ok := st.Brokers[id]; ok && !st.Draining[id] {
			continue
		}
		for _, r := range st.Assignments[id].GetPartitions() {
			moves = append(moves, meta.Move{TopicID: [16]byte(r.TopicId), Partition: r.Partition, From: id, To: pick(isSlot(r))})
		}
	}
	// Load reports are read only when no partition must move at once (failover, drain):
	// those moves wait for nothing.
	urgent := slices.ContainsFunc(moves, func(m meta.Move) bool { return m.TopicID != meta.GroupSlotsTopicID })
	if !urgent {
		c.refreshRates(ctx, st)
	}
	moves = append(moves, balance(st, live, load[true], true, meta.GroupSlots, nil)...)
	var byBytes []meta.Move
	if c.tokens > 0 {
		rebalance := balance(st, live, load[false], false, c.tokens, c.rates)
		c.tokens -= len(rebalance)
		moves = append(moves, rebalance...)
		if !urgent && len(rebalance) == 0 {
			byBytes = balanceBytes(live, holdings(st, live), load[false], c.rates, c.frozen, c.tokens)
			c.tokens -= len(byBytes)
			moves = append(moves, byBytes...)
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
	c.log.Info("placed or moved partitions and coordinator slots", "moves", len(moves), "took", time.Since(start))
	for _, m := range byBytes {
		k := meta.PartitionKey{TopicID: m.TopicID, Partition: m.Partition}
		c.bytesMoved[k] = time.Now()
		bytesMoves.Inc()
		c.log.Info("moved a partition to even out bytes in", "topic_id", hex.EncodeToString(m.TopicID[:]),
			"partition", m.Partition, "from", m.From, "to", m.To, "bytes_in_per_sec", c.rates[k])
	}
	return nil
}

// frozen reports whether a partition moved for bytes less than BytesMoveCooldown ago,
// forgetting those moved longer ago.
func (c *controller) frozen(k meta.PartitionKey) bool {
	at, ok := c.bytesMoved[k]
	if ok && time.Since(at) >= BytesMoveCooldown {
		delete(c.bytesMoved, k)
		return false
	}
	return ok
}

// holdings returns the partitions (not coordinator slots) each serving broker leads.
func holdings(st *meta.ClusterState, live []int32) map[int32][]meta.PartitionKey {
	out := make(map[int32][]meta.PartitionKey, len(live))
	for _, id := range live {
		for _, r := range st.Assignments[id].GetPartitions() {
			if !isSlot(r) {
				out[id] = append(out[id], meta.PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition})
			}
		}
	}
	return out
}

// isSlot reports whether an assignment entry is a group coordinator slot.
func isSlot(r *metapb.PartitionRef) bool { return [16]byte(r.TopicId) == meta.GroupSlotsTopicID }

// balance moves at most limit partitions (slots false) or group coordinator slots (slots
// true) from the serving brokers holding the most to those holding the fewest until they
// differ by at most one (load counts them after the moves already planned). Of the
// partitions it could move, it takes the one whose bytes in (rates, when known) best even
// out the two brokers' bytes in. A slot moves
// without data (its groups' members rejoin at the new coordinator, offsets stay in etcd); a
// partition moves by a takeover at the new leader. So a broker that joins, or comes back
// from a restart or a drain, gets its share.
func balance(st *meta.ClusterState, live []int32, load map[int32]int, slots bool, limit int, rates map[meta.PartitionKey]int64) []meta.Move {
	if len(live) < 2 {
		return nil
	}
	movable := make(map[int32][]*metapb.PartitionRef) // serving broker -> what it holds now
	for _, id := range live {
		for _, r := range st.Assignments[id].GetPartitions() {
			if isSlot(r) == slots {
				movable[id] = append(movable[id], r)
			}
		}
	}
	bytesIn := make(map[int32]int64, len(live))
	for id, rs := range movable {
		for _, r := range rs {
			bytesIn[id] += rates[meta.PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition}]
		}
	}
	var moves []meta.Move
	for len(moves) < limit {
		most := slices.MaxFunc(live, func(a, b int32) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(b, a)) })
		least := slices.MinFunc(live, func(a, b int32) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(a, b)) })
		if load[most]-load[least] <= 1 || len(movable[most]) == 0 {
			break
		}
		// The last one unless bytes say otherwise: the one leaving the two brokers' bytes in
		// nearest each other.
		i := len(movable[most]) - 1
		if len(rates) > 0 {
			spread := func(i int) int64 {
				r := movable[most][i]
				d := rates[meta.PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition}]
				after := (bytesIn[most] - d) - (bytesIn[least] + d)
				return max(after, -after)
			}
			for j := len(movable[most]) - 2; j >= 0; j-- {
				if spread(j) < spread(i) {
					i = j
				}
			}
		}
		r := movable[most][i]
		movable[most] = slices.Delete(movable[most], i, i+1)
		d := rates[meta.PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition}]
		bytesIn[most] -= d
		bytesIn[least] += d
		moves = append(moves, meta.Move{TopicID: [16]byte(r.TopicId), Partition: r.Partition, From: most, To: least})
		load[most]--
		load[least]++
	}
	return moves
}
