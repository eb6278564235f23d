package group

// The classic group protocol, as Apache Kafka's GroupCoordinator runs it:
//
//	Empty --join--> PreparingRebalance --all joined or rebalance timeout--> CompletingRebalance
//	CompletingRebalance --leader's SyncGroup--> Stable
//	Stable/CompletingRebalance --join with new metadata, leave, session expiry--> PreparingRebalance
//	PreparingRebalance --nobody left--> Empty
//
// An Empty group keeps its protocol type and generation (its next member starts the next
// generation), as Kafka's does, until it is deleted or offset expiry removes it.
//
// The first rebalance of an empty group waits group.initial.rebalance.delay.ms for more
// members (extended while members keep coming, up to the rebalance timeout). Members that
// do not rejoin within the rebalance timeout are removed (static members are kept until
// their session expires); members that do not send SyncGroup within the rebalance timeout
// after the JoinGroup answers are removed and the group rebalances again. A member that
// neither heartbeats nor waits in a JoinGroup or SyncGroup is removed after its session
// timeout. The coordinator passes protocols and assignments through: clients assign
// (eager or cooperative alike).

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// state is a classic group's state; String gives Kafka's names.
type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// member is one member of a classic group. It is guarded by its group's mu.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []Protocol
	assignment       []byte

	joinReply func(JoinResponse) // set while the member waits in JoinGroup
	syncReply func(SyncResponse) // set while it waits in SyncGroup

	isNew         bool // joined this rebalance without a member id: it cannot heartbeat yet
	joinedAt      time.Time
	lastHeartbeat time.Time
	timer         timer // session timer (members) or pending expiry (pending members)
}

// group is one classic group. Every field but c and name is guarded by mu.
type group struct {
	c    *Coordinator
	name string

	mu             sync.Mutex
	dead           bool // dropped from the coordinator; a new group may take its name
	state          state
	generation     int32
	protocolType   string
	protocol       string
	leader         string
	members        map[string]*member
	pending        map[string]*member // answered MEMBER_ID_REQUIRED, not joined yet (KIP-394)
	static         map[string]string  // group.instance.id -> member id
	protoCount     map[string]int     // members supporting each protocol name
	newMemberAdded bool               // a member joined during the initial delay
	initialDelay   bool               // the join phase under way is the initial delay: it never ends early
	round          uint64             // bumped for every join phase; a stale join timer sees it changed
	joinTimer      timer
	pendingSync    map[string]bool // members that got their JoinGroup answer but have not synced
	syncTimer      timer
	cg             *consumerGroup // non-nil for a KIP-848 consumer group (consumer.go)
	// occupiedAt is when the group last lost a member (of either protocol): once it has
	// none, its offsets' retention counts from then (expiry.go).
	occupiedAt time.Time
	out        outbox
}

func newGroup(c *Coordinator, name string) *group {
	return &group{
		c: c, name: name,
		members:     make(map[string]*member),
		pending:     make(map[string]*member),
		static:      make(map[string]string),
		protoCount:  make(map[string]int),
		pendingSync: make(map[string]bool),
	}
}

// takeOutbox returns the queued answers. Lock must be held.
func (g *group) takeOutbox() outbox {
	out := g.out
	g.out = nil
	return out
}

// isEmpty reports whether the group is Empty: no member of either protocol, none pending,
// no rebalance under way. Lock must be held.
func (g *group) isEmpty() bool {
	return g.state == stateEmpty && len(g.pending) == 0 && !g.hasMembers()
}

// startOver makes an empty group of one protocol a new group of the other, as Kafka
// deletes an empty group when a member of the other protocol arrives and creates a new
// one: the classic generation starts again from 0, a consumer group's epoch from 0.
// Members that only got MEMBER_ID_REQUIRED are forgotten (their next JoinGroup gets
// UNKNOWN_MEMBER_ID). Lock must be held; the group has no members.
func (g *group) startOver() {
	for _, p := range g.pending {
		stopTimer(p.timer)
	}
	clear(g.pending)
	stopTimer(g.joinTimer)
	g.joinTimer = nil
	g.clearPendingSync()
	g.round++ // a join timer already firing finds its round gone
	g.state, g.generation, g.protocolType, g.protocol, g.leader = stateEmpty, 0, "", "", ""
	g.newMemberAdded, g.initialDelay = false, false
	g.cg = nil
}

// hasMembers reports whether the group has members of either protocol. Lock must be held.
func (g *group) hasMembers() bool {
	return len(g.members) > 0 || g.cg != nil && len(g.cg.members) > 0
}

// kill marks the group dead and stops its timers. Lock must be held.
func (g *group) kill() {
	g.dead = true
	g.state = stateDead
	for _, m := range g.members {
		stopTimer(m.timer)
	}
	for _, m := range g.pending {
		stopTimer(m.timer)
	}
	stopTimer(g.joinTimer)
	stopTimer(g.syncTimer)
	if g.cg != nil {
		for _, m := range g.cg.members {
			stopTimer(m.timer)
			stopTimer(m.revokeTimer)
		}
	}
}

// unload answers every waiting request with NOT_COORDINATOR and kills the group.
// Lock must be held.
func (g *group) unload() {
	for _, m := range g.sortedMembers() {
		if m.joinReply != nil {
			g.replyJoin(m, JoinResponse{Err: kerr.NotCoordinator, Generation: -1, MemberID: m.id})
		}
		if m.syncReply != nil {
			g.replySync(m, SyncResponse{Err: kerr.NotCoordinator})
		}
	}
	g.kill()
}

func stopTimer(t timer) {
	if t != nil {
		t.Stop()
	}
}

// sortedMembers returns the members ordered by id, so answers and choices do not
// depend on map order. Lock must be held.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *member) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return out
}

// countProtocols adds delta to the count of each protocol name m supports (each name
// once, whatever the duplicates). Lock must be held.
func (g *group) countProtocols(m *member, delta int) {
	for i, p := range m.protocols {
		if slices.ContainsFunc(m.protocols[:i], func(q Protocol) bool { return q.Name == p.Name }) {
			continue
		}
		g.protoCount[p.Name] += delta
		if g.protoCount[p.Name] == 0 {
			delete(g.protoCount, p.Name)
		}
	}
}

// rebalanceTimeout is the largest rebalance timeout of the members. Lock must be held.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// metadata returns m's metadata for protocol name.
func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// sameProtocols reports whether ps equals m's protocols, names and metadata, in order.
func (m *member) sameProtocols(ps []Protocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b Protocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}
