package group

// The classic group protocol, as Apache Kafka's GroupCoordinator runs it:
//
//	Empty --join--> PreparingRebalance --all joined or rebalance timeout--> CompletingRebalance
//	CompletingRebalance --leader's SyncGroup--> Stable
//	Stable/CompletingRebalance --join with new metadata, leave, session expiry--> PreparingRebalance
//	PreparingRebalance --nobody left--> Empty
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
	out            outbox
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

// droppable reports whether the group holds nothing worth keeping. Lock must be held.
func (g *group) droppable() bool {
	return g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0
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

// join runs a JoinGroup on g. Lock must be held.
func (g *group) join(req JoinRequest, reply func(JoinResponse)) {
	fail := func(e *kerr.Error) {
		g.out = append(g.out, func() { reply(JoinResponse{Err: e, Generation: -1, MemberID: req.MemberID}) })
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
	if g.state == statePreparingRebalance && g.generation == 0 {
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
// most votes win (ties go to the smaller name). Lock must be held.
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
	if best == "" {
		g.c.log.Error("BUG: no protocol common to all members", "group", g.name, "members", len(g.members))
	}
	return best
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

// rebalanceTimeout is the largest rebalance timeout of the members. Lock must be held.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}
