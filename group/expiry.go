package group

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta"
)

var (
	offsetsExpired = metrics.NewCounter(`kafscale_group_offsets_expired_total`)
	groupsExpired  = metrics.NewCounter(`kafscale_group_empty_groups_removed_total`)
)

// ExpireOffsets deletes the committed offsets of groups without members once they are
// older than offsets.retention.minutes, as Kafka's offset expiration does (KIP-211), and
// returns how many it deleted. Then, as Kafka's cleanup does, it forgets every Empty
// group (classic or consumer) left without committed offsets: such a group no longer
// exists. An Empty group stays in memory until then, so the groups kept without offsets
// are those clients left within one check interval.
//
// Kafka expires an empty group's offsets together, retention after the group became
// empty. Here the retention counts from the latest of: the group's newest commit, when
// the group lost its last member (known while this coordinator keeps the group), and
// when this coordinator started (what happened before is unknown: a group known only
// from its stored offsets, after a restart). That never expires a group earlier than
// Kafka would, only later; except a group that was already Empty when its slot moved to
// this coordinator (its leave time stayed with the previous one, so the newest commit
// or this coordinator's start counts). An offset committed with an explicit
// retention (OffsetCommit v2-v4) expires at its own time, as in Kafka. Groups with
// members keep every offset (Kafka also expires a stable consumer group's offsets of
// topics it no longer subscribes to; not done here).
func (c *Coordinator) ExpireOffsets(ctx context.Context) (int, error) {
	stored, err := c.store.ListGroups(ctx)
	if err != nil {
		offsetStoreErrs.Inc()
		return 0, fmt.Errorf("cannot list groups: %w", err)
	}
	total := 0
	for _, name := range c.withLiveGroups(stored) {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if !c.owns(name) {
			continue // another broker coordinates it
		}
		n, err := c.expireGroup(ctx, name)
		total += n
		if err != nil {
			offsetStoreErrs.Inc()
			return total, fmt.Errorf("cannot expire offsets of group %s: %w", name, err)
		}
	}
	return total, nil
}

// withLiveGroups returns names and the groups in memory, sorted, each once.
func (c *Coordinator) withLiveGroups(names []string) []string {
	c.mu.Lock()
	all := slices.Grow(slices.Clone(names), len(c.groups))
	for name := range c.groups {
		all = append(all, name)
	}
	c.mu.Unlock()
	slices.Sort(all)
	return slices.Compact(all)
}

// expireGroup expires one group's offsets under its commit lock, so no commit interleaves,
// and forgets the group if it is Empty and has no offset left.
func (c *Coordinator) expireGroup(ctx context.Context, name string) (int, error) {
	mu := c.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	since, occupied := c.emptySince(name)
	if occupied {
		return 0, nil
	}
	offs, err := c.store.FetchOffsets(ctx, name)
	if err != nil {
		return 0, err
	}
	now := c.clock.Now().UnixMilli()
	base := since.UnixMilli()
	for _, o := range offs {
		if o.ExpireUnixMs == 0 {
			base = max(base, o.CommitUnixMs)
		}
	}
	retention := c.cfg.OffsetsRetention.Milliseconds()
	var del []meta.PartitionKey
	for _, o := range offs {
		expired := now-base >= retention
		if o.ExpireUnixMs != 0 {
			expired = now >= o.ExpireUnixMs
		}
		if expired {
			del = append(del, o.Partition)
		}
	}
	if len(del) > 0 {
		if err := c.store.DeleteOffsets(ctx, name, del); err != nil {
			return 0, err
		}
		offsetsExpired.Add(len(del))
		c.log.Info("committed offsets expired", "group", name, "partitions", len(del), "of", len(offs), "retention", c.cfg.OffsetsRetention)
	}
	if len(del) == len(offs) && c.dropIfEmpty(name) {
		groupsExpired.Inc()
		c.log.Info("empty group removed: no committed offsets", "group", name)
	}
	return len(del), nil
}

// emptySince reports whether the group called name has members (or the coordinator is
// closed: nothing to do) and, if not, when the coordinator last saw it with members, or
// when the coordinator started if later.
func (c *Coordinator) emptySince(name string) (time.Time, bool) {
	g, e := c.lookup(name, false)
	if e != nil {
		return time.Time{}, true
	}
	if g == nil {
		return c.started, false
	}
	defer c.release(g)
	if g.hasMembers() {
		return time.Time{}, true
	}
	if g.occupiedAt.After(c.started) {
		return g.occupiedAt, false
	}
	return c.started, false
}

// dropIfEmpty drops the in-memory group called name if it is Empty, and reports whether
// it did. Caller holds the group's commit stripe, and saw the group has no offsets.
func (c *Coordinator) dropIfEmpty(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.isEmpty() {
		return false
	}
	g.kill()
	delete(c.groups, name)
	return true
}
