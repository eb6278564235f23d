package group

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kerr"
)

// SyncGroup, Heartbeat, LeaveGroup and the removal of members.

// Sync handles a SyncGroup request; reply is called exactly once, now or when the
// leader's assignment arrives.
func (c *Coordinator) Sync(req SyncRequest, reply func(SyncResponse)) {
	if e := c.checkGroupID(req.Group); e != nil {
		reply(SyncResponse{Err: e})
		return
	}
	// The leader's assignments alias the request frame; members keep them.
	assignments := make([]Assignment, len(req.Assignments))
	for i, a := range req.Assignments {
		assignments[i] = Assignment{MemberID: a.MemberID, Assignment: bytes.Clone(a.Assignment)}
	}
	req.Assignments = assignments
	g, e := c.lookup(req.Group, false)
	if e != nil {
		reply(SyncResponse{Err: e})
		return
	}
	if g == nil {
		reply(SyncResponse{Err: kerr.UnknownMemberID})
		return
	}
	g.sync(req, reply)
	c.release(g)
}

// sync runs a SyncGroup on g. Lock must be held.
func (g *group) sync(req SyncRequest, reply func(SyncResponse)) {
	fail := func(e *kerr.Error) { g.out = append(g.out, func() { reply(SyncResponse{Err: e}) }) }
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		fail(e)
		return
	}
	if req.Generation != g.generation {
		fail(kerr.IllegalGeneration)
		return
	}
	if req.ProtocolType != nil && *req.ProtocolType != g.protocolType || req.Protocol != nil && *req.Protocol != g.protocol {
		fail(kerr.InconsistentGroupProtocol)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		fail(kerr.RebalanceInProgress)
	case stateCompletingRebalance:
		g.synced(m)
		if m.syncReply != nil {
			g.replySync(m, SyncResponse{Err: kerr.RebalanceInProgress})
		}
		m.syncReply = reply
		if m.id != g.leader {
			return
		}
		for _, o := range g.members {
			o.assignment = nil
		}
		for _, a := range req.Assignments {
			if o := g.members[a.MemberID]; o != nil {
				o.assignment = a.Assignment
			}
		}
		g.state = stateStable
		for _, o := range g.sortedMembers() {
			if o.syncReply != nil {
				g.replySync(o, SyncResponse{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: o.assignment})
			}
		}
		g.c.log.Info("group stable", "group", g.name, "generation", g.generation, "protocol", g.protocol, "members", len(g.members))
	case stateStable:
		g.synced(m)
		resp := SyncResponse{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
		g.out = append(g.out, func() { reply(resp) })
	default:
		fail(kerr.UnknownMemberID)
	}
}

// synced notes that m sent its SyncGroup. Lock must be held.
func (g *group) synced(m *member) {
	m.lastHeartbeat = g.c.clock.Now()
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		stopTimer(g.syncTimer)
		g.syncTimer = nil
	}
}

// Heartbeat handles a Heartbeat request.
func (c *Coordinator) Heartbeat(req HeartbeatRequest) *kerr.Error {
	if e := c.checkGroupID(req.Group); e != nil {
		return e
	}
	g, e := c.lookup(req.Group, false)
	if e != nil {
		return e
	}
	if g == nil {
		return kerr.UnknownMemberID
	}
	defer c.release(g)
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		return e
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateCompletingRebalance, stateStable:
		m.lastHeartbeat = g.c.clock.Now()
		return nil
	case statePreparingRebalance:
		m.lastHeartbeat = g.c.clock.Now()
		return kerr.RebalanceInProgress
	default:
		return kerr.UnknownMemberID
	}
}

// Leave handles a LeaveGroup request.
func (c *Coordinator) Leave(group string, members []LeaveMember) LeaveResponse {
	if e := c.checkGroupID(group); e != nil {
		return LeaveResponse{Err: e}
	}
	resp := LeaveResponse{Members: make([]*kerr.Error, len(members))}
	g, e := c.lookup(group, false)
	if e != nil {
		return LeaveResponse{Err: e}
	}
	if g == nil {
		for i := range resp.Members {
			resp.Members[i] = kerr.UnknownMemberID
		}
		return resp
	}
	defer c.release(g)
	for i, lm := range members {
		resp.Members[i] = g.leave(lm)
	}
	return resp
}

// leave removes one member. Lock must be held.
func (g *group) leave(lm LeaveMember) *kerr.Error {
	reason := "member left"
	if lm.Reason != "" {
		reason += ": " + lm.Reason
	}
	if lm.MemberID == "" {
		// An administrator removing a static member by its instance id.
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok || g.members[id] == nil {
			return kerr.UnknownMemberID
		}
		g.removeAndRebalance(g.members[id], reason)
		return nil
	}
	if p := g.pending[lm.MemberID]; p != nil {
		g.expirePending(p)
		return nil
	}
	if e := g.validateMember(lm.MemberID, lm.InstanceID); e != nil {
		return e
	}
	g.removeAndRebalance(g.members[lm.MemberID], reason)
	return nil
}

// validateMember checks that memberID is a member and, for a static member, that its
// instance id maps to it (FENCED_INSTANCE_ID if another member took the instance id
// over). Lock must be held.
func (g *group) validateMember(memberID string, instanceID *string) *kerr.Error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if cur != memberID {
			return kerr.FencedInstanceID
		}
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

// expirePending forgets a member that got MEMBER_ID_REQUIRED. Lock must be held.
func (g *group) expirePending(p *member) {
	if g.pending[p.id] != p {
		return
	}
	stopTimer(p.timer)
	delete(g.pending, p.id)
	if g.state == statePreparingRebalance {
		g.checkJoinComplete()
	}
}

// removeAndRebalance removes a member that left or expired, answering what it has
// waiting with UNKNOWN_MEMBER_ID, and rebalances the rest. Lock must be held.
func (g *group) removeAndRebalance(m *member, reason string) {
	if m.joinReply != nil {
		g.replyJoin(m, JoinResponse{Err: kerr.UnknownMemberID, Generation: -1, MemberID: m.id})
	}
	if m.syncReply != nil {
		g.replySync(m, SyncResponse{Err: kerr.UnknownMemberID})
	}
	g.removeMember(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.prepareRebalance(reason + " (" + m.id + ")")
	case statePreparingRebalance:
		g.checkJoinComplete()
	}
}

// removeMember drops a member with no waiting request. Lock must be held.
func (g *group) removeMember(m *member) {
	g.occupiedAt = g.c.clock.Now()
	stopTimer(m.timer)
	g.countProtocols(m, -1)
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}
