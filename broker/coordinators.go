package broker

// Group coordinators in a cluster (DESIGN.md, "Cluster"; docs/cluster.md): groups hash onto
// meta.GroupSlots slots, as Kafka hashes them onto the partitions of __consumer_offsets;
// the controller assigns each slot to a broker as a "partition" of the reserved id
// meta.GroupSlotsTopicID, and moves and fences it as it does partitions. A broker
// coordinates the groups of the slots in its assignment; every group write is fenced on its
// broker fence, which moves with any slot moved away, so a deposed coordinator writes
// nothing.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafscale/kafscale/group"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

// groupSlot is Kafka's partitionFor: abs(groupId.hashCode) % slots, with Java's String
// hashCode over UTF-16 code units.
func groupSlot(g string) int32 {
	var h int32
	for _, r := range g {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return (h & 0x7fffffff) % meta.GroupSlots
}

// isSlot reports whether an assignment entry is a group coordinator slot, not a partition.
func isSlot(r *metapb.PartitionRef) bool { return [16]byte(r.TopicId) == meta.GroupSlotsTopicID }

// ownsGroup reports whether this broker coordinates group g.
func (b *Broker) ownsGroup(g string) bool {
	slots := b.slots.Load()
	return slots != nil && (*slots)[groupSlot(g)]
}

// setSlots records the coordinator slots an assignment gives this broker, and unloads the
// groups of the slots it lost, whose waiting members then look for their new coordinator.
func (b *Broker) setSlots(a *metapb.Assignment) {
	owned := make(map[int32]bool)
	for _, r := range a.GetPartitions() {
		if isSlot(r) {
			owned[r.Partition] = true
		}
	}
	old := b.slots.Swap(&owned)
	if old == nil {
		return
	}
	lost := make(map[int32]bool)
	for s := range *old {
		if !owned[s] {
			lost[s] = true
		}
	}
	if len(lost) > 0 {
		b.groups.Unload(func(g string) bool { return lost[groupSlot(g)] })
		b.log.Info("group coordinator slots moved to other brokers", "slots", len(lost))
	}
}

// slotOwner returns the live broker coordinating group g, or nil.
func (b *Broker) slotOwner(g string) *metapb.Broker {
	st := b.view.Load()
	if st == nil {
		return nil
	}
	slot := groupSlot(g)
	for id, a := range st.Assignments {
		for _, r := range a.GetPartitions() {
			if isSlot(r) && r.Partition == slot {
				if id == b.cfg.NodeID {
					return b.self()
				}
				return st.Brokers[id] // nil when not live
			}
		}
	}
	return nil
}

// waitSlots waits, up to timeout, until every group coordinator slot is held by a live
// broker (the controller places them when a cluster first starts), so that a new cluster
// answers FindCoordinator at once.
func (b *Broker) waitSlots(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && b.ctx.Err() == nil {
		if st := b.view.Load(); st != nil && slotsHeld(st) {
			if a := st.Assignments[b.cfg.NodeID]; a != nil && b.slots.Load() == nil {
				b.setSlots(a)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.log.Warn("group coordinator slots are not all placed yet; groups wait for the controller", "waited", timeout)
}

func slotsHeld(st *meta.ClusterState) bool {
	held := 0
	for id, a := range st.Assignments {
		if _, live := st.Brokers[id]; !live {
			continue
		}
		for _, r := range a.GetPartitions() {
			if isSlot(r) {
				held++
			}
		}
	}
	return held >= meta.GroupSlots
}

// groupStore is the group coordinator's store: reads go to etcd as they are, writes are
// fenced on this broker's fence (meta.GroupFence). A fenced write re-reads the fence: if
// this broker still coordinates the group it writes again, otherwise the coordinator
// answers NOT_COORDINATOR.
type groupStore struct{ b *Broker }

func (g groupStore) fenced(ctx context.Context, name string, write func(meta.GroupFence) error) error {
	b := g.b
	for attempt := 0; attempt < 5; attempt++ {
		err := write(meta.GroupFence{Broker: b.cfg.NodeID, Rev: b.fenceRev.Load()})
		if !errors.Is(err, meta.ErrFenced) {
			return err
		}
		if _, ferr := b.refreshFence(ctx); ferr != nil {
			return fmt.Errorf("cannot write group %q: %v: %w", name, ferr, group.ErrNotCoordinator)
		}
		if !b.ownsGroup(name) {
			return fmt.Errorf("cannot write group %q: its coordinator slot moved: %w", name, group.ErrNotCoordinator)
		}
	}
	return fmt.Errorf("cannot write group %q: the fence kept moving", name)
}

func (g groupStore) CommitOffsets(ctx context.Context, name string, offsets []meta.GroupOffset) error {
	return g.fenced(ctx, name, func(f meta.GroupFence) error { return g.b.meta.CommitOffsetsFenced(ctx, f, name, offsets) })
}

func (g groupStore) DeleteOffsets(ctx context.Context, name string, parts []meta.PartitionKey) error {
	return g.fenced(ctx, name, func(f meta.GroupFence) error { return g.b.meta.DeleteOffsetsFenced(ctx, f, name, parts) })
}

func (g groupStore) DeleteGroup(ctx context.Context, name string) (int64, error) {
	var n int64
	err := g.fenced(ctx, name, func(f meta.GroupFence) error {
		var err error
		n, err = g.b.meta.DeleteGroupFenced(ctx, f, name)
		return err
	})
	return n, err
}

func (g groupStore) FetchOffsets(ctx context.Context, name string) ([]meta.GroupOffset, error) {
	return g.b.meta.FetchOffsets(ctx, name)
}

func (g groupStore) GroupExists(ctx context.Context, name string) (bool, error) {
	return g.b.meta.GroupExists(ctx, name)
}

func (g groupStore) ListGroups(ctx context.Context) ([]string, error) {
	return g.b.meta.ListGroups(ctx)
}
