package group

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kerr"
)

// JoinGroup: new members, members rejoining, static members replacing themselves.

// Join handles a JoinGroup request; reply is called exactly once, now or when the
// rebalance completes.
func (c *Coordinator) Join(req JoinRequest, reply func(JoinResponse)) {
	fail := func(e *kerr.Error) { reply(JoinResponse{Err: e, Generation: -1, MemberID: req.MemberID}) }
	if e := c.checkGroupID(req.Group); e != nil {
		fail(e)
		return
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		fail(kerr.InvalidSessionTimeout)
		return
	}
	if e := checkJoinStrings(req); e != nil {
		fail(e)
		return
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	// The request's bytes alias a frame that is recycled once it is answered; the
	// group keeps metadata until the next rebalance.
	protocols := make([]Protocol, len(req.Protocols))
	for i, p := range req.Protocols {
		protocols[i] = Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}
	}
	req.Protocols = protocols
	g, e := c.lookup(req.Group, req.MemberID == "")
	if e != nil {
		fail(e)
		return
	}
	if g == nil {
		fail(kerr.UnknownMemberID)
		return
	}
	g.join(req, reply)
	c.release(g)
}

// checkJoinStrings refuses a JoinGroup with a string the group would have to echo in
// versions that cannot carry it (MaxNameBytes): the protocol type and names go out in
// ListGroups, DescribeGroups and JoinGroup before v6, the instance id in JoinGroup v5
// and DescribeGroups v4. Only JoinGroup v6+ (flexible) can send longer ones. Kafka
// refuses them too, by accident: its group record (GroupMetadataValue v3) cannot hold
// them, and the rebalance fails with UNKNOWN_SERVER_ERROR for every member. Here only
// the member is refused, with INCONSISTENT_GROUP_PROTOCOL for protocols (as for an
// empty type or list: the group cannot use them) and INVALID_REQUEST for the instance
// id (as Kafka's KIP-848 coordinator answers a bad instance id).
func checkJoinStrings(req JoinRequest) *kerr.Error {
	if len(req.ProtocolType) > MaxNameBytes {
		return kerr.InconsistentGroupProtocol
	}
	for _, p := range req.Protocols {
		if len(p.Name) > MaxNameBytes {
			return kerr.InconsistentGroupProtocol
		}
	}
	if req.InstanceID != nil && len(*req.InstanceID) > MaxNameBytes {
		return kerr.InvalidRequest
	}
	return nil
}

// join runs a JoinGroup on g. Lock must be held.
func (g *group) join(req JoinRequest, reply func(JoinResponse)) {
	fail := func(e *kerr.Error) {
		g.out = append(g.out, func() { reply(JoinResponse{Err: e, Generation: -1, MemberID: req.MemberID}) })
	}
	if g.cg != nil {
		if len(g.cg.members) > 0 {
			fail(kerr.InconsistentGroupProtocol)
			return
		}
		g.startOver() // an empty consumer group becomes a classic one
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		fail(kerr.InconsistentGroupProtocol)
		return
	}
	if req.MemberID == "" {
		g.joinNew(req, reply)
	} else if e := g.joinKnown(req, reply); e != nil {
		fail(e)
	}
	if g.state == statePreparingRebalance {
		g.checkJoinComplete()
	}
}

// joinNew handles a JoinGroup without a member id. Lock must be held.
func (g *group) joinNew(req JoinRequest, reply func(JoinResponse)) {
	if req.InstanceID != nil {
		if oldID, ok := g.static[*req.InstanceID]; ok && g.members[oldID] != nil {
			g.replaceStatic(oldID, req, reply)
			return
		}
	}
	if len(g.members)+len(g.pending) >= g.c.cfg.MaxSize {
		g.out = append(g.out, func() { reply(JoinResponse{Err: kerr.GroupMaxSizeReached, Generation: -1}) })
		return
	}
	m := g.newMember(newMemberID(req.ClientID, req.InstanceID), req)
	if req.RequireKnownMemberID && req.InstanceID == nil {
		// KIP-394: the client must come back with this id, so a client that retries a
		// timed-out JoinGroup does not leave a defunct member behind.
		g.pending[m.id] = m
		m.timer = g.c.clock.AfterFunc(m.sessionTimeout, func() { g.c.onTimer(g, func() { g.expirePending(m) }) })
		id := m.id
		g.out = append(g.out, func() { reply(JoinResponse{Err: kerr.MemberIDRequired, Generation: -1, MemberID: id}) })
		return
	}
	g.addMember(m, reply)
}

// joinKnown handles a JoinGroup of a member that has its id, returning the error to
// answer with, if any. Lock must be held.
func (g *group) joinKnown(req JoinRequest, reply func(JoinResponse)) *kerr.Error {
	if p := g.pending[req.MemberID]; p != nil {
		if req.InstanceID != nil {
			return kerr.UnknownMemberID // static members are never pending
		}
		delete(g.pending, p.id)
		stopTimer(p.timer)
		g.addMember(g.newMember(p.id, req), reply)
		return nil
	}
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		return e
	}
	m := g.members[req.MemberID]
	m.lastHeartbeat = g.c.clock.Now()
	switch g.state {
	case statePreparingRebalance:
		g.updateMember(m, req, reply)
	case stateCompletingRebalance:
		if m.sameProtocols(req.Protocols) {
			// A retry of a JoinGroup whose answer was lost: answer it again.
			resp := g.joinResponse(m)
			g.out = append(g.out, func() { reply(resp) })
			return nil
		}
		g.updateMember(m, req, reply)
		g.prepareRebalance("member " + m.id + " rejoined with new metadata")
	case stateStable:
		if g.leader != m.id && m.sameProtocols(req.Protocols) {
			resp := g.joinResponse(m)
			g.out = append(g.out, func() { reply(resp) })
			return nil
		}
		g.updateMember(m, req, reply)
		g.prepareRebalance("member " + m.id + " rejoined (leader, or new metadata)")
	default:
		return kerr.UnknownMemberID
	}
	return nil
}

// replaceStatic handles a static member rejoining without its member id (a restarted
// process with the same group.instance.id): the new member id replaces the old one,
// keeping its assignment, and any request the old one has waiting is fenced. A stable
// group whose protocol does not change does not rebalance (KIP-345). Lock must be held.
func (g *group) replaceStatic(oldID string, req JoinRequest, reply func(JoinResponse)) {
	m := g.members[oldID]
	if m.joinReply != nil {
		g.replyJoin(m, JoinResponse{Err: kerr.FencedInstanceID, Generation: -1, MemberID: oldID})
	}
	if m.syncReply != nil {
		g.replySync(m, SyncResponse{Err: kerr.FencedInstanceID})
	}
	currentLeader := g.leader
	newID := newMemberID(req.ClientID, req.InstanceID)
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[*req.InstanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.lastHeartbeat = g.c.clock.Now()
	g.updateMember(m, req, reply)
	switch g.state {
	case stateStable:
		if g.selectProtocol() == g.protocol {
			// The old leader id stays in the answer: a client older than KIP-814 then
			// acts as a follower and keeps the assignment the stable group has.
			resp := JoinResponse{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, LeaderID: currentLeader, MemberID: newID}
			if g.leader == newID {
				resp.Members = g.memberList()
				resp.SkipAssignment = true
			}
			g.replyJoin(m, resp)
			return
		}
		g.prepareRebalance("static member " + *req.InstanceID + " rejoined with other protocols")
	case stateCompletingRebalance:
		g.prepareRebalance("static member " + *req.InstanceID + " rejoined during a rebalance")
	}
}

func (g *group) newMember(id string, req JoinRequest) *member {
	now := g.c.clock.Now()
	return &member{
		id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		sessionTimeout: req.SessionTimeout, rebalanceTimeout: req.RebalanceTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols,
		joinedAt: now, lastHeartbeat: now,
	}
}

// addMember adds a new member waiting in JoinGroup and starts a rebalance. Lock must
// be held.
func (g *group) addMember(m *member, reply func(JoinResponse)) {
	m.isNew = true
	if g.state == statePreparingRebalance && g.initialDelay {
		// Kafka's test is "the rebalance started from Empty": an emptied group's
		// next first rebalance is delayed too, whatever its generation.
		g.newMemberAdded = true
	}
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.members[m.id] = m
	g.countProtocols(m, 1)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	m.joinReply = reply
	g.armSession(m, m.sessionTimeout)
	g.maybePrepareRebalance("member " + m.id + " joined")
}

// updateMember takes a member's new JoinGroup. An earlier JoinGroup of the member still
// waiting is answered with REBALANCE_IN_PROGRESS: every request gets an answer, and
// the client is waiting for the new one only. Lock must be held.
func (g *group) updateMember(m *member, req JoinRequest, reply func(JoinResponse)) {
	if m.joinReply != nil {
		g.replyJoin(m, JoinResponse{Err: kerr.RebalanceInProgress, Generation: -1, MemberID: m.id})
	}
	g.countProtocols(m, -1)
	m.protocols = req.Protocols
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	g.countProtocols(m, 1)
	m.joinReply = reply
}
