package ctrl

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"time"

	"github.com/kafscale/kafscale/meta"
)

// Balancing by bytes in (docs/cluster.md, "Balancing"). Brokers report their partitions'
// recent bytes in (load/<id>, broker/load.go); once partition counts are even, the
// controller moves load from the serving broker receiving the most bytes to the one
// receiving the fewest, one partition (when the first holds more partitions than the
// second) or a swap of two (keeping counts even) at a time, within the same rebalancing
// budget as count moves.

// MinBytesInImbalance is the smallest difference in bytes in per second between the
// busiest and the idlest serving broker that the controller moves partitions for, and
// BytesInTolerancePercent the same as a share of the mean broker's bytes in; the larger
// applies. Below them a move's pause (a takeover, tens of milliseconds of produce
// latency) costs more than it evens out.
const (
	MinBytesInImbalance     = 512 << 10
	BytesInTolerancePercent = 20
)

// BytesMoveCooldown is how long a partition moved for bytes stays where it went: rates are
// measured over a report interval, and a partition must not bounce while they settle.
const BytesMoveCooldown = 2 * time.Minute

// loadReadInterval is how often the controller reads the load reports (one range read).
const loadReadInterval = 5 * time.Second

// refreshRates reads the load reports when the last read is older than loadReadInterval
// and keeps each partition's rate as its current leader reported it, or, for a partition
// that moved since, as its previous leader did (until the new one reports).
func (c *controller) refreshRates(ctx context.Context, st *meta.ClusterState) {
	if time.Since(c.ratesAt) < loadReadInterval {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	loads, err := c.store.ReadLoads(rctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cannot read the brokers' load reports", "err", err)
		}
		return
	}
	c.ratesAt = time.Now()
	leaders := st.Leaders()
	rates := make(map[meta.PartitionKey]int64)
	for _, own := range []bool{true, false} {
		for id, l := range loads {
			for _, p := range l.GetPartitions() {
				k := meta.PartitionKey{TopicID: [16]byte(p.TopicId), Partition: p.Partition}
				if _, done := rates[k]; done {
					continue
				}
				if (leaders[k].Broker == id) == own {
					rates[k] = p.BytesInPerSec
				}
			}
		}
	}
	c.rates = rates
}

// balanceBytes returns at most one move, or one swap (two moves), of partitions between
// the serving brokers receiving the most and the fewest bytes in, if that evens them out
// by at least half the tolerated imbalance; nothing when they are within it, when fewer
// than limit moves are left, or for partitions in their cooldown (frozen). holdings are
// the partitions each serving broker leads, counts their numbers.
func balanceBytes(live []int32, holdings map[int32][]meta.PartitionKey, counts map[int32]int,
	rates map[meta.PartitionKey]int64, frozen func(meta.PartitionKey) bool, limit int) []meta.Move {
	if len(live) < 2 || limit < 1 {
		return nil
	}
	load := make(map[int32]int64, len(live))
	var total int64
	for _, id := range live {
		for _, k := range holdings[id] {
			load[id] += rates[k]
		}
		total += load[id]
	}
	most := slices.MaxFunc(live, func(a, b int32) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(b, a)) })
	least := slices.MinFunc(live, func(a, b int32) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(a, b)) })
	diff := load[most] - load[least]
	tolerated := max(int64(MinBytesInImbalance), total/int64(len(live))*BytesInTolerancePercent/100)
	if diff <= tolerated {
		return nil
	}
	// gain is how much closer a transfer of d bytes/s from most to least brings them.
	gain := func(d int64) int64 {
		if d <= 0 || d >= diff {
			return 0
		}
		after := diff - 2*d
		return diff - max(after, -after)
	}
	var best int64
	var from, to meta.PartitionKey
	swap := false
	if counts[most] > counts[least] {
		for _, p := range holdings[most] {
			if g := gain(rates[p]); g > best && !frozen(p) {
				best, from, swap = g, p, false
			}
		}
	}
	if limit >= 2 {
		// For each of most's partitions, the best partner of least's is the one whose rate
		// is nearest rate(p) - diff/2: a binary search over least's sorted by rate.
		var cands []meta.PartitionKey
		for _, q := range holdings[least] {
			if !frozen(q) {
				cands = append(cands, q)
			}
		}
		sort.Slice(cands, func(i, j int) bool { return rates[cands[i]] < rates[cands[j]] })
		for _, p := range holdings[most] {
			if frozen(p) {
				continue
			}
			ideal := rates[p] - diff/2
			i := sort.Search(len(cands), func(i int) bool { return rates[cands[i]] >= ideal })
			for _, j := range []int{i - 1, i} {
				if j < 0 || j >= len(cands) {
					continue
				}
				if g := gain(rates[p] - rates[cands[j]]); g > best {
					best, from, to, swap = g, p, cands[j], true
				}
			}
		}
	}
	if best < tolerated/2 {
		return nil
	}
	moves := []meta.Move{{TopicID: from.TopicID, Partition: from.Partition, From: most, To: least}}
	if swap {
		moves = append(moves, meta.Move{TopicID: to.TopicID, Partition: to.Partition, From: least, To: most})
	}
	return moves
}
