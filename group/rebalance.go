package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Join phases, generations, protocol choice and the timers that drive them.

// maybePrepareRebalance starts a rebalance unless one is under way. Lock must be held.
func (g *group) maybePrepareRebalance(reason string) {
	if g.state == statePreparingRebalance {
		return
	}
	g.prepareRebalance(reason)
}

// prepareRebalance starts a join phase: members have the rebalance timeout (the largest
// of theirs) to rejoin; an empty group's first phase waits the initial delay instead.
// SyncGroups waiting for an assignment that will not come get REBALANCE_IN_PROGRESS.
// Lock must be held.
func (g *group) prepareRebalance(reason string) {
	if g.state == stateCompletingRebalance {
		for _, m := range g.sortedMembers() {
			m.assignment = nil
			if m.syncReply != nil {
				g.replySync(m, SyncResponse{Err: kerr.RebalanceInProgress})
			}
		}
	}
	g.clearPendingSync()
	wasEmpty := g.state == stateEmpty
	g.state = statePreparingRebalance
	rebalances.Inc()
	g.c.log.Info("group rebalancing", "group", g.name, "generation", g.generation, "reason", reason)
	if wasEmpty {
		delay := g.c.cfg.InitialRebalanceDelay
		g.initialDelay = true
		g.armJoinTimer(delay, g.onInitialDelay(delay, max(g.rebalanceTimeout()-delay, 0)))
		return
	}
	g.initialDelay = false
	g.armJoinTimer(g.rebalanceTimeout(), g.completeJoin)
	// Nobody to wait for (the last member left): complete now.
	g.checkJoinComplete()
}

// armJoinTimer starts a new join phase timer running fn after d. Lock must be held.
func (g *group) armJoinTimer(d time.Duration, fn func()) {
	stopTimer(g.joinTimer)
	g.round++
	round := g.round
	g.joinTimer = g.c.clock.AfterFunc(d, func() {
		g.c.onTimer(g, func() {
			if g.round == round && g.state == statePreparingRebalance {
				fn()
			}
		})
	})
}

// onInitialDelay returns the end of an initial delay phase: while members kept joining
// and rebalance time is left, wait another delay; else complete the join.
func (g *group) onInitialDelay(delay, remaining time.Duration) func() {
	return func() {
		if g.newMemberAdded && remaining > 0 {
			g.newMemberAdded = false
			next := min(g.c.cfg.InitialRebalanceDelay, remaining)
			g.armJoinTimer(next, g.onInitialDelay(next, max(remaining-delay, 0)))
			return
		}
		g.completeJoin()
	}
}

// checkJoinComplete completes the join phase early when every member has rejoined and
// no member is pending (never during the initial delay). Lock must be held.
func (g *group) checkJoinComplete() {
	if g.state != statePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinReply == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends a join phase: dynamic members that did not rejoin are removed, the
// generation moves on, a protocol is chosen and every member gets its JoinGroup answer
// (the leader with everyone's metadata). Lock must be held.
func (g *group) completeJoin() {
	if g.state != statePreparingRebalance {
		return
	}
	stopTimer(g.joinTimer)
	g.joinTimer = nil
	g.initialDelay = false
	for _, m := range g.sortedMembers() {
		if m.joinReply == nil && m.instanceID == nil {
			g.c.log.Info("group member removed: did not rejoin within the rebalance timeout", "group", g.name, "member", m.id)
			g.removeMember(m)
		}
	}
	if len(g.members) > 0 && !g.electJoinedLeader() {
		// Only static members are left and none rejoined: wait for them (or for their
		// sessions to expire) another rebalance timeout.
		g.armJoinTimer(g.rebalanceTimeout(), g.completeJoin)
		return
	}
	g.generation++
	g.newMemberAdded = false
	g.clearPendingSync()
	if len(g.members) == 0 {
		g.protocol = ""
		g.state = stateEmpty
		g.c.log.Info("group empty", "group", g.name, "generation", g.generation)
		return
	}
	g.protocol = g.selectProtocol()
	g.state = stateCompletingRebalance
	now := g.c.clock.Now()
	list := g.memberList()
	for _, m := range g.sortedMembers() {
		if m.joinReply != nil {
			resp := g.joinResponse(m)
			if m.id == g.leader {
				resp.Members = list
			}
			g.replyJoin(m, resp)
		}
		m.isNew = false
		m.lastHeartbeat = now
		g.pendingSync[m.id] = true
	}
	gen := g.generation
	g.syncTimer = g.c.clock.AfterFunc(g.rebalanceTimeout(), func() { g.c.onTimer(g, func() { g.onPendingSyncExpired(gen) }) })
	g.c.log.Info("group generation formed", "group", g.name, "generation", g.generation, "protocol", g.protocol, "leader", g.leader, "members", len(g.members))
}

// onPendingSyncExpired removes the members that did not send SyncGroup within the
// rebalance timeout after generation gen formed, and rebalances. Lock must be held.
func (g *group) onPendingSyncExpired(gen int32) {
	if g.generation != gen || len(g.pendingSync) == 0 || g.state != stateCompletingRebalance && g.state != stateStable {
		return
	}
	for _, m := range g.sortedMembers() {
		if g.pendingSync[m.id] {
			g.c.log.Info("group member removed: no SyncGroup within the rebalance timeout", "group", g.name, "member", m.id)
			if m.syncReply != nil {
				g.replySync(m, SyncResponse{Err: kerr.UnknownMemberID})
			}
			g.removeMember(m)
		}
	}
	g.prepareRebalance("members did not sync")
}

func (g *group) clearPendingSync() {
	clear(g.pendingSync)
	stopTimer(g.syncTimer)
	g.syncTimer = nil
}

// electJoinedLeader keeps the leader if it rejoined, else makes a member that rejoined
// the leader; false when no member rejoined. Lock must be held.
func (g *group) electJoinedLeader() bool {
	if m := g.members[g.leader]; m != nil && m.joinReply != nil {
		return true
	}
	for _, m := range g.sortedMembers() {
		if m.joinReply != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// armSession starts m's session timer. It is re-armed when it fires, never reset:
// heartbeats only move lastHeartbeat. Lock must be held.
func (g *group) armSession(m *member, d time.Duration) {
	m.timer = g.c.clock.AfterFunc(d, func() { g.c.onTimer(g, func() { g.checkSession(m) }) })
}

// checkSession removes m if its session expired. A member waiting in JoinGroup or
// SyncGroup is alive (those waits are bounded by the rebalance timeout), except a new
// member, which may wait in JoinGroup at most NewMemberJoinTimeout. Lock must be held.
func (g *group) checkSession(m *member) {
	if g.members[m.id] != m {
		return
	}
	now := g.c.clock.Now()
	next := m.sessionTimeout
	switch {
	case m.joinReply != nil:
		if m.isNew {
			left := m.joinedAt.Add(g.c.cfg.NewMemberJoinTimeout).Sub(now)
			if left <= 0 {
				membersExpired.Inc()
				g.c.log.Info("group member removed: new member waited too long in JoinGroup", "group", g.name, "member", m.id)
				g.removeAndRebalance(m, "new member join timeout")
				return
			}
			next = min(next, left)
		}
	case m.syncReply != nil:
	default:
		left := m.lastHeartbeat.Add(m.sessionTimeout).Sub(now)
		if left <= 0 {
			membersExpired.Inc()
			g.c.log.Info("group member removed: session timeout", "group", g.name, "member", m.id, "session_timeout", m.sessionTimeout)
			g.removeAndRebalance(m, "session timeout")
			return
		}
		next = left
	}
	g.armSession(m, next)
}

// replyJoin queues m's JoinGroup answer. Lock must be held.
func (g *group) replyJoin(m *member, resp JoinResponse) {
	f := m.joinReply
	m.joinReply = nil
	m.lastHeartbeat = g.c.clock.Now()
	g.out = append(g.out, func() { f(resp) })
}

// replySync queues m's SyncGroup answer. Lock must be held.
func (g *group) replySync(m *member, resp SyncResponse) {
	f := m.syncReply
	m.syncReply = nil
	m.lastHeartbeat = g.c.clock.Now()
	g.out = append(g.out, func() { f(resp) })
}

// joinResponse is the current generation's JoinGroup answer for m, without the member
// list. Lock must be held.
func (g *group) joinResponse(m *member) JoinResponse {
	resp := JoinResponse{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, LeaderID: g.leader, MemberID: m.id}
	if m.id == g.leader {
		resp.Members = g.memberList()
	}
	return resp
}

// memberList returns every member's metadata for the group's protocol. Lock must be held.
func (g *group) memberList() []JoinMember {
	out := make([]JoinMember, 0, len(g.members))
	for _, m := range g.sortedMembers() {
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadata(g.protocol)})
	}
	return out
}

// supportsProtocols reports whether a member with these protocols may join: the first
// member sets the protocol type; later ones must share it and support at least one
// protocol every member supports. Lock must be held.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.protoCount[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol for the next generation: among the protocols every
// member supports, each member votes for the first in its own preference order; the
// most votes win (ties go to the smaller name). The empty name is a protocol like any
// other, as in Kafka (which checks only that the first member names a protocol type
// and at least one protocol). Lock must be held.
func (g *group) selectProtocol() string {
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.protoCount[p.Name] == len(g.members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for name, v := range votes {
		if v > bestVotes || v == bestVotes && name < best {
			best, bestVotes = name, v
		}
	}
	if bestVotes == 0 {
		g.c.log.Error("BUG: no protocol common to all members", "group", g.name, "members", len(g.members))
	}
	return best
}

// hasProtocol reports whether the group has chosen a protocol (g.protocol, which may be
// ""): it has, from its first generation on, while it has members. Lock must be held.
func (g *group) hasProtocol() bool {
	return g.generation > 0 && len(g.members) > 0
}
