package group

import (
	"context"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/meta"
)

var offsetsExpired = metrics.NewCounter(`kafscale_group_offsets_expired_total`)

// ExpireOffsets deletes the committed offsets of groups without members once they are
// older than offsets.retention.minutes, as Kafka's offset expiration does (KIP-211), and
// returns how many it deleted. A group whose offsets all expired no longer exists.
//
// Kafka expires an empty group's offsets together, retention after the group became
// empty. The coordinator forgets an empty group at once, so it measures from the latest
// of: the group's newest commit, when this coordinator last saw the group with members,
// and when this coordinator started (what happened before it started is unknown). That
// never expires a group earlier than Kafka would, only later. An offset committed with an
// explicit retention (OffsetCommit v2-v4) expires at its own time, as in Kafka. Groups
// with members keep every offset (Kafka also expires a stable consumer group's offsets of
// topics it no longer subscribes to; not done here).
func (c *Coordinator) ExpireOffsets(ctx context.Context) (int, error) {
	names, err := c.store.ListGroups(ctx)
	if err != nil {
		offsetStoreErrs.Inc()
		return 0, fmt.Errorf("cannot list groups: %w", err)
	}
	total := 0
	defer c.pruneOccupied()
	for _, name := range names {
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

// expireGroup expires one group's offsets under its commit lock, so no commit interleaves.
func (c *Coordinator) expireGroup(ctx context.Context, name string) (int, error) {
	mu := c.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	if c.hasMembers(name) {
		return 0, nil
	}
	offs, err := c.store.FetchOffsets(ctx, name)
	if err != nil {
		return 0, err
	}
	now := c.clock.Now().UnixMilli()
	base := c.lastOccupied(name).UnixMilli()
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
	if len(del) == 0 {
		return 0, nil
	}
	if err := c.store.DeleteOffsets(ctx, name, del); err != nil {
		return 0, err
	}
	if len(del) == len(offs) {
		c.forgetOccupied(name)
	}
	offsetsExpired.Add(len(del))
	c.log.Info("committed offsets expired", "group", name, "partitions", len(del), "of", len(offs), "retention", c.cfg.OffsetsRetention)
	return len(del), nil
}

// hasMembers reports whether the live group called name has members.
func (c *Coordinator) hasMembers(name string) bool {
	c.mu.Lock()
	g := c.groups[name]
	c.mu.Unlock()
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.dead && g.hasMembers() {
		c.noteOccupied(name)
		return true
	}
	return false
}

// noteOccupied records that name had members now. Caller may hold g.mu.
func (c *Coordinator) noteOccupied(name string) {
	c.occupiedMu.Lock()
	defer c.occupiedMu.Unlock()
	c.occupied[name] = c.clock.Now()
}

// forgetOccupied drops what noteOccupied recorded of name.
func (c *Coordinator) forgetOccupied(name string) {
	c.occupiedMu.Lock()
	defer c.occupiedMu.Unlock()
	delete(c.occupied, name)
}

// pruneOccupied drops records older than the retention: they no longer hold any expiry
// back, and the groups they name may never come back.
func (c *Coordinator) pruneOccupied() {
	c.occupiedMu.Lock()
	defer c.occupiedMu.Unlock()
	now := c.clock.Now()
	for name, t := range c.occupied {
		if now.Sub(t) >= c.cfg.OffsetsRetention {
			delete(c.occupied, name)
		}
	}
}

// lastOccupied is when this coordinator last saw name with members, or when it started.
func (c *Coordinator) lastOccupied(name string) time.Time {
	c.occupiedMu.Lock()
	defer c.occupiedMu.Unlock()
	if t, ok := c.occupied[name]; ok {
		return t
	}
	return c.started
}
