package broker

// Cluster: what this broker knows of the other brokers and of the partitions it does not
// lead (DESIGN.md, "Cluster"; docs/cluster.md).
//
// b.topics holds every topic of the cluster (fed by a watch of topics/), each partition
// with its partState where this broker leads it and nil elsewhere. b.view holds the latest
// cluster state (live brokers, every partition's assigned leader and epoch, the
// controller), fed by a watch of brokers/, assignments/ and the election. A partition
// newly assigned to this broker is taken over; one assigned away makes the broker re-read
// its fence, which resigns it. The controller (package ctrl) runs in every broker and acts
// only while elected.
//
// Goroutines: watchTopics and watchCluster are started by Open and end with b.ctx.
// followAssignment leaves the topics a request on this broker is creating (b.creating) to
// that request, so no partition is taken over twice at once.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/topicmetrics"
)

// notServedCode is what a request for partition p of t gets when this broker does not lead
// it: NOT_LEADER_OR_FOLLOWER for a partition of a known topic (another broker leads it, or
// its leadership is moving), so that clients refresh their metadata and retry, and unknown
// otherwise.
func notServedCode(t *topic, p int32, unknown int16) int16 {
	if t != nil && p >= 0 && int(p) < len(t.parts) {
		return kerr.NotLeaderForPartition.Code
	}
	return unknown
}

// upsertTopic records a topic's metadata (created or changed anywhere), keeping the
// partitions this broker serves. The topic watch may deliver an event older than what a
// request on this broker already recorded (CreatePartitions answered before the watch saw
// the topic's creation): partition counts only grow, so a smaller count is stale and
// changes nothing. Lock order: Broker.mu (taken here).
func (b *Broker) upsertTopic(mt *metapb.Topic) {
	if len(mt.Id) != 16 {
		return
	}
	id := [16]byte(mt.Id)
	b.mu.Lock()
	defer b.mu.Unlock()
	old, had := b.byID[id]
	if had && mt.Partitions < old.meta.Partitions {
		return
	}
	t := &topic{meta: mt, id: id, parts: make([]*partState, mt.Partitions), maxMessageBytes: b.maxMessageBytes(mt)}
	if had {
		copy(t.parts, old.parts)
	}
	if old, ok := b.topics[mt.Name]; ok && old.id != id {
		delete(b.byID, old.id) // a deleted topic's name taken again
	}
	b.topics[mt.Name] = t
	b.byID[id] = t
}

// dropTopic forgets a topic deleted elsewhere and resigns its partitions.
func (b *Broker) dropTopic(name string, id [16]byte) {
	b.mu.Lock()
	t := b.byID[id]
	delete(b.byID, id)
	if cur, ok := b.topics[name]; ok && cur.id == id {
		delete(b.topics, name)
		topicmetrics.Forget(name)
	}
	b.mu.Unlock()
	if t != nil {
		for _, ps := range t.parts {
			if ps != nil {
				b.resign(ps.log, "topic deleted")
			}
		}
	}
}

// watchTopics keeps b.topics equal to topics/ in etcd.
func (b *Broker) watchTopics() {
	for ev := range b.meta.WatchTopics(b.ctx) {
		switch ev.Kind {
		case meta.TopicSnapshot:
			keep := make(map[[16]byte]bool, len(ev.Topics))
			for _, mt := range ev.Topics {
				b.upsertTopic(mt)
				keep[[16]byte(mt.Id)] = true
			}
			// A snapshot may predate a topic this broker just created: topics it leads
			// leave through their delete events and fences, not through a snapshot.
			b.mu.RLock()
			var gone []*topic
			for id, t := range b.byID {
				if !keep[id] && !slices.ContainsFunc(t.parts, func(ps *partState) bool { return ps != nil }) {
					gone = append(gone, t)
				}
			}
			b.mu.RUnlock()
			for _, t := range gone {
				b.dropTopic(t.meta.Name, t.id)
			}
		case meta.TopicPut:
			b.upsertTopic(ev.Topic)
		case meta.TopicDeleted:
			if ev.Topic != nil && len(ev.Topic.Id) == 16 {
				b.dropTopic(ev.Name, [16]byte(ev.Topic.Id))
			}
		}
	}
}

// watchCluster keeps b.view current and follows this broker's assignment.
func (b *Broker) watchCluster() {
	var followed int64 // mod revision of this broker's assignment last followed
	for st := range b.meta.WatchCluster(b.ctx) {
		b.view.Store(st)
		if b.stopped.Load() {
			continue
		}
		rev := st.AssignmentRevs[b.cfg.NodeID]
		if rev == followed {
			continue // nothing changed for this broker (other brokers' moves, creations)
		}
		if err := b.followAssignment(st); err != nil {
			if b.ctx.Err() == nil {
				b.log.Warn("cannot follow this broker's assignment", "err", err)
			}
			continue // the next state tries again
		}
		followed = rev
	}
}

// refreshView reads the cluster state now (after this broker changed assignments), so its
// own Metadata answers are current before the watch catches up.
func (b *Broker) refreshView(ctx context.Context) {
	st, err := b.meta.ReadCluster(ctx)
	if err != nil {
		if !b.shuttingDown() {
			b.log.Warn("cannot read the cluster state", "err", err)
		}
		return
	}
	if cur := b.view.Load(); cur == nil || cur.Revision < st.Revision {
		b.view.Store(st)
	}
}

// followAssignment takes over the partitions st assigns to this broker that it does not
// serve at their epoch, and re-reads its fence (which resigns them) when it serves one st
// no longer assigns to it. st may be older than what this broker already did: takeovers
// are fenced, and the fence re-read is linearizable.
func (b *Broker) followAssignment(st *meta.ClusterState) error {
	b.followMu.Lock()
	defer b.followMu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	own := st.Assignments[b.cfg.NodeID]
	b.setSlots(own) // group writes are fenced: a stale state costs at most a refused write
	served := make(map[meta.PartitionKey]int32)
	assigned := make(map[meta.PartitionKey]bool)
	take := make(map[[16]byte][]*metapb.PartitionRef)
	// What is served and what is being created are read under one lock: a request
	// publishes its partitions (under b.mu) before it clears its creating mark, so a
	// partition is either seen served or seen creating, never taken over twice.
	b.mu.RLock()
	for _, t := range b.topics {
		for p, ps := range t.parts {
			if ps != nil && ps.log.Leader() {
				_, _, epoch := ps.log.Offsets()
				served[meta.PartitionKey{TopicID: t.id, Partition: int32(p)}] = epoch
			}
		}
	}
	for _, r := range own.GetPartitions() {
		if isSlot(r) {
			continue
		}
		pk := meta.PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition}
		if e, ok := served[pk]; ok && e == r.LeaderEpoch {
			assigned[pk] = true
			continue
		}
		if _, busy := b.creating.Load(pk.TopicID); busy {
			continue // a request on this broker is taking it over
		}
		take[pk.TopicID] = append(take[pk.TopicID], r)
	}
	b.mu.RUnlock()
	if len(assigned) < len(served) {
		if _, err := b.refreshFence(ctx); err != nil {
			return err
		}
	}
	if len(take) == 0 {
		return nil
	}
	start := time.Now()
	n := 0
	for id, refs := range take {
		mt, err := b.topicMeta(ctx, id)
		if err != nil {
			return err
		}
		if mt == nil {
			continue // deleted meanwhile
		}
		if err := b.takeOver(ctx, mt, refs); err != nil {
			return fmt.Errorf("cannot take over %d partitions of %s: %w", len(refs), mt.Name, err)
		}
		n += len(refs)
	}
	b.log.Info("took over partitions assigned to this broker", "partitions", n, "took", time.Since(start))
	return nil
}

// topicMeta returns a topic's metadata by id, from b.topics or else from etcd (the topic
// watch may lag the cluster watch); nil if it does not exist.
func (b *Broker) topicMeta(ctx context.Context, id [16]byte) (*metapb.Topic, error) {
	if t := b.topicByID(id); t != nil {
		return t.meta, nil
	}
	topics, err := b.meta.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	for _, mt := range topics {
		if len(mt.Id) == 16 && [16]byte(mt.Id) == id {
			return mt, nil
		}
	}
	return nil, nil
}

// placeLeaders picks a leader for each of n new partitions: the live brokers that are not
// draining, leading the fewest partitions first, this broker first among equals (a topic created on an idle
// cluster stays on the broker that created it), then by id.
func (b *Broker) placeLeaders(n int32) []int32 {
	st := b.view.Load()
	if st == nil || len(st.Brokers) == 0 {
		return []int32{b.cfg.NodeID}
	}
	load := make(map[int32]int)
	var live []int32
	if !st.Draining[b.cfg.NodeID] {
		live = append(live, b.cfg.NodeID)
		load[b.cfg.NodeID] = countPartitions(st.Assignments[b.cfg.NodeID], false)
	}
	for id := range st.Brokers {
		if id != b.cfg.NodeID && !st.Draining[id] {
			live = append(live, id)
			load[id] = countPartitions(st.Assignments[id], false)
		}
	}
	if len(live) == 0 {
		return []int32{b.cfg.NodeID} // everyone drains: keep the topic here rather than nowhere
	}
	self := b.cfg.NodeID
	out := make([]int32, n)
	for i := range out {
		out[i] = slices.MinFunc(live, func(a, c int32) int {
			return cmp.Or(cmp.Compare(load[a], load[c]), boolOrder(a != self, c != self), cmp.Compare(a, c))
		})
		load[out[i]]++
	}
	return out
}

// boolOrder orders false before true.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// self is this broker as Metadata lists it.
func (b *Broker) self() *metapb.Broker {
	return &metapb.Broker{Id: b.cfg.NodeID, Host: b.cfg.AdvertisedHost, Port: b.cfg.AdvertisedPort, Listeners: b.cfg.Listeners}
}

// partitionLeader returns partition p of t's leader and leader epoch as Metadata answers
// them, from this broker's view of the cluster (lv): this broker while it serves p, else
// the assigned leader if that is another live broker, else -1, -1 (leadership moving, or
// no such partition).
func (b *Broker) partitionLeader(t *topic, p int32, lv leaderView) (leader, epoch int32) {
	if t == nil || p < 0 || int(p) >= len(t.parts) {
		return -1, -1
	}
	if ps := t.parts[p]; ps != nil && ps.log.Leader() {
		_, _, epoch := ps.log.Offsets()
		return b.cfg.NodeID, epoch
	}
	if lr, ok := lv.leaders[meta.PartitionKey{TopicID: t.id, Partition: p}]; ok && lr.Broker != b.cfg.NodeID && lv.brokers[lr.Broker] != nil {
		return lr.Broker, lr.Epoch
	}
	return -1, -1
}

// brokerEndpoint returns live broker id (this one included) as Metadata lists it, or nil.
func (b *Broker) brokerEndpoint(id int32, lv leaderView) *metapb.Broker {
	if id == b.cfg.NodeID {
		return b.self()
	}
	return lv.brokers[id]
}

// clusterBrokers returns the live brokers to list in Metadata (this one always) and the
// controller id.
func (b *Broker) clusterBrokers() ([]*metapb.Broker, int32) {
	self := b.self()
	st := b.view.Load()
	if st == nil {
		return []*metapb.Broker{self}, b.cfg.NodeID
	}
	out := []*metapb.Broker{self}
	for id, br := range st.Brokers {
		if id != b.cfg.NodeID {
			out = append(out, br)
		}
	}
	slices.SortFunc(out, func(x, y *metapb.Broker) int { return cmp.Compare(x.Id, y.Id) })
	ctl := st.Controller
	if ctl < 0 {
		ctl = b.cfg.NodeID
	}
	return out, ctl
}

// countPartitions counts an assignment's partitions, or its group coordinator slots.
func countPartitions(a *metapb.Assignment, slots bool) int {
	n := 0
	for _, r := range a.GetPartitions() {
		if isSlot(r) == slots {
			n++
		}
	}
	return n
}

// markCreating tells followAssignment to leave topic id to the caller until done is called;
// done then catches up with the latest cluster state, in case the caller failed half-way.
// done may be called more than once: the first call counts.
func (b *Broker) markCreating(id [16]byte) (done func()) {
	b.creating.Store(id, struct{}{})
	return sync.OnceFunc(func() {
		b.creating.Delete(id)
		if st := b.view.Load(); st != nil && b.requests.Err() == nil {
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				if err := b.followAssignment(st); err != nil && b.ctx.Err() == nil {
					b.log.Warn("cannot follow this broker's assignment", "err", err)
				}
			}()
		}
	})
}
