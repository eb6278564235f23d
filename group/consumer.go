package group

// KIP-848 consumer groups, as Kafka 4's group coordinator runs them. Members send
// ConsumerGroupHeartbeat; the coordinator keeps a group epoch (bumped when members or
// their subscriptions, or the subscribed topics' partitions, change), computes a target
// assignment at that epoch with a server-side assignor, and moves each member towards its
// target in its own heartbeats: a member first revokes the partitions it must give up
// (keeping its epoch until its heartbeat no longer reports them), then gets its new
// partitions and the new epoch, and partitions still held by another member are handed
// over once that member has released them. Everything is request/response: no answer
// waits, so nothing here blocks a dispatcher.
//
// A group id is either a classic or a consumer group. A consumer group without members
// becomes classic on a JoinGroup and the other way round (starting over, as a new group);
// with members, the other protocol gets INCONSISTENT_GROUP_PROTOCOL (JoinGroup) or
// GROUP_ID_NOT_FOUND (ConsumerGroupHeartbeat). A consumer group whose members all left
// stays, Empty, like a classic one.

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// cmState is a consumer group member's reconciliation state.
type cmState int8

const (
	cmStable     cmState = iota // owns its target at the target epoch
	cmUnrevoked                 // waits for the member to revoke partitions
	cmUnreleased                // waits for other members to release partitions
)

// cmember is a member of a consumer group. It is guarded by its group's mu.
type cmember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	epoch, prevEpoch int32 // epoch -2: a static member that left and may come back
	state            cmState
	rebalanceTimeout time.Duration
	assignor         string
	topics           []string // subscribed topic names, sorted
	regexSrc         string
	regex            *regexp.Regexp
	assigned         map[tp]int32 // owned partitions -> the member epoch they were assigned at
	revoking         map[tp]bool  // partitions the member must revoke
	lastHeartbeat    time.Time
	timer            timer  // session
	revokeTimer      timer  // rebalance timeout while revoking
	revokeSeq        uint64 // identifies the revocation revokeTimer belongs to
}

// consumerGroup is the KIP-848 state of a group. It is guarded by its group's mu.
type consumerGroup struct {
	epoch           int32 // group epoch
	assignmentEpoch int32 // epoch of target
	assignor        string
	members         map[string]*cmember
	static          map[string]string // group.instance.id -> member id
	target          map[string]map[tp]bool
	owner           map[tp]string // partitions assigned to or being revoked by a member
	metaSig         string        // the subscribed topics' metadata target was computed with
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		members: make(map[string]*cmember), static: make(map[string]string),
		target: make(map[string]map[tp]bool), owner: make(map[tp]string),
	}
}

// stateName is the group's state as Kafka names it.
func (cg *consumerGroup) stateName() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.epoch > cg.assignmentEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.state != cmStable || m.epoch != cg.assignmentEpoch {
			return "Reconciling"
		}
	}
	return "Stable"
}

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat request.
func (c *Coordinator) ConsumerHeartbeat(req ConsumerHeartbeatRequest) ConsumerHeartbeatResponse {
	fail := func(e *kerr.Error, msg string) ConsumerHeartbeatResponse {
		return ConsumerHeartbeatResponse{Err: e, ErrMessage: msg, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch, HeartbeatInterval: c.cfg.ConsumerHeartbeatInterval}
	}
	re, e, msg := c.checkConsumerHeartbeat(req)
	if e != nil {
		return fail(e, msg)
	}
	if req.MemberID == "" {
		req.MemberID = newMemberID(req.ClientID, req.InstanceID) // v0: the coordinator names new members
	}
	g, e := c.lookup(req.Group, req.MemberEpoch == 0)
	if e != nil {
		return fail(e, "")
	}
	if g == nil {
		// The group is gone (for instance, this broker restarted): rejoin.
		return fail(kerr.UnknownMemberID, "the group has no such member")
	}
	defer c.release(g)
	if g.cg == nil {
		if len(g.members) > 0 {
			return fail(kerr.GroupIDNotFound, "the group is a classic group with members")
		}
		if req.MemberEpoch != 0 {
			return fail(kerr.UnknownMemberID, "the group has no such member")
		}
		g.startOver() // an empty classic group becomes a consumer group
		g.cg = newConsumerGroup()
		g.protocolType = "consumer"
	}
	resp, e, msg := g.consumerHeartbeat(req, re)
	if e != nil {
		return fail(e, msg)
	}
	return resp
}

// checkConsumerHeartbeat validates a request as Kafka does before it reaches a group,
// and compiles its regex.
func (c *Coordinator) checkConsumerHeartbeat(req ConsumerHeartbeatRequest) (*regexp.Regexp, *kerr.Error, string) {
	invalid := func(msg string) (*regexp.Regexp, *kerr.Error, string) { return nil, kerr.InvalidRequest, msg }
	switch {
	case req.Group == "":
		return invalid("GroupId can't be empty.")
	case len(req.Group) > c.cfg.MaxGroupIDBytes:
		return nil, kerr.InvalidGroupID, "the group id is too long"
	case req.InstanceID != nil && *req.InstanceID == "":
		return invalid("InstanceId can't be empty.")
	case req.RackID != nil && *req.RackID == "":
		return invalid("RackId can't be empty.")
	case req.MemberID == "" && (req.RequireMemberID || req.MemberEpoch != 0):
		return invalid("MemberId can't be empty.")
	case req.MemberEpoch < -2:
		return invalid("MemberEpoch is invalid.")
	case req.MemberEpoch == -2 && req.InstanceID == nil:
		return invalid("InstanceId can't be null.")
	case req.MemberEpoch == 0 && req.RebalanceTimeout < 0:
		return invalid("RebalanceTimeoutMs must be provided in first request.")
	case req.MemberEpoch == 0 && (req.Owned == nil || len(req.Owned) > 0):
		return invalid("TopicPartitions must be empty when (re-)joining.")
	case req.MemberEpoch == 0 && req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
		return invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
	case req.ServerAssignor != nil && *req.ServerAssignor != AssignorUniform && *req.ServerAssignor != AssignorRange:
		return nil, kerr.UnsupportedAssignor, "the server assignors are uniform and range"
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		// Kafka matches the whole topic name.
		re, err := regexp.Compile("^(?:" + *req.SubscribedTopicRegex + ")$")
		if err != nil {
			return nil, kerr.InvalidRegularExpression, err.Error()
		}
		return re, nil, ""
	}
	return nil, nil, ""
}

// consumerHeartbeat runs a heartbeat on a consumer group. Lock must be held.
func (g *group) consumerHeartbeat(req ConsumerHeartbeatRequest, re *regexp.Regexp) (ConsumerHeartbeatResponse, *kerr.Error, string) {
	cg := g.cg
	now := g.c.clock.Now()
	resp := ConsumerHeartbeatResponse{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch, HeartbeatInterval: g.c.cfg.ConsumerHeartbeatInterval}
	switch req.MemberEpoch {
	case -1:
		m := cg.members[req.MemberID]
		if m == nil {
			return resp, kerr.UnknownMemberID, ""
		}
		g.removeConsumer(m, "member left")
		return resp, nil, ""
	case -2:
		m := cg.members[req.MemberID]
		if m == nil {
			return resp, kerr.UnknownMemberID, ""
		}
		if m.instanceID == nil || *m.instanceID != *req.InstanceID {
			return resp, kerr.FencedInstanceID, ""
		}
		// Its partitions stay reserved until it comes back or its session expires.
		cg.setAssignment(m, cmStable, -2, m.assigned, nil)
		g.trackRevocation(m)
		return resp, nil, ""
	}

	m, isNew, e := g.consumerMember(req, now)
	if e != nil {
		return resp, e, ""
	}
	m.clientID, m.clientHost, m.lastHeartbeat = req.ClientID, req.ClientHost, now
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	changed := isNew
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(names)
		names = slices.Compact(names)
		if !slices.Equal(names, m.topics) {
			m.topics, changed = names, true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regexSrc {
		m.regexSrc, m.regex, changed = *req.SubscribedTopicRegex, re, true
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor, changed = *req.ServerAssignor, true
	}
	if isNew {
		g.armConsumerSession(m, g.c.cfg.ConsumerSessionTimeout)
	}

	subs, meta, sig := g.resolveSubscriptions()
	if changed || sig != cg.metaSig {
		cg.epoch++
	}
	if cg.epoch > cg.assignmentEpoch {
		g.computeTarget(subs, meta, sig)
	}
	before := maps2set(m.assigned)
	var owned map[tp]bool
	if req.Owned != nil {
		owned = fromTopicPartitions(req.Owned)
	}
	cg.reconcile(m, owned)
	g.trackRevocation(m)

	resp.MemberID, resp.MemberEpoch = m.id, m.epoch
	full := req.RebalanceTimeout >= 0 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Owned != nil
	if req.MemberEpoch == 0 || full || !setsEqual(before, maps2set(m.assigned)) {
		resp.HasAssignment = true
		resp.Assignment = toTopicPartitions(maps2set(m.assigned))
	}
	return resp, nil, ""
}

// consumerMember returns the member a heartbeat is for, creating or replacing it on a
// join (epoch 0), and checks its epoch otherwise. Lock must be held.
func (g *group) consumerMember(req ConsumerHeartbeatRequest, now time.Time) (*cmember, bool, *kerr.Error) {
	cg := g.cg
	m := cg.members[req.MemberID]
	if req.MemberEpoch != 0 {
		if m == nil {
			if req.InstanceID != nil && cg.static[*req.InstanceID] != "" {
				return nil, false, kerr.FencedInstanceID
			}
			return nil, false, kerr.UnknownMemberID
		}
		if req.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *req.InstanceID) {
			return nil, false, kerr.FencedInstanceID
		}
		// A member one epoch behind that owns no more than its assignment may have
		// lost the answer that moved it on.
		if req.MemberEpoch > m.epoch || req.MemberEpoch < m.epoch && (req.MemberEpoch != m.prevEpoch || !ownsSubset(req.Owned, m.assigned)) {
			return nil, false, kerr.FencedMemberEpoch
		}
		return m, false, nil
	}
	if m != nil {
		// A rejoin with the same id: the member keeps its state, and gets its whole
		// assignment again.
		if m.epoch == -2 {
			cg.setAssignment(m, m.state, m.prevEpoch, m.assigned, nil)
		}
		return m, false, nil
	}
	m = &cmember{id: req.MemberID, instanceID: req.InstanceID, assigned: map[tp]int32{}, lastHeartbeat: now}
	if req.InstanceID != nil {
		if oldID := cg.static[*req.InstanceID]; oldID != "" && cg.members[oldID] != nil {
			old := cg.members[oldID]
			if old.epoch != -2 {
				return nil, false, kerr.UnreleasedInstanceID
			}
			// A restarted static member takes its previous incarnation's place and
			// partitions, without a new group epoch.
			m.assigned, m.topics, m.regexSrc, m.regex, m.assignor = old.assigned, old.topics, old.regexSrc, old.regex, old.assignor
			m.epoch, m.prevEpoch = old.prevEpoch, old.prevEpoch
			cg.target[m.id] = cg.target[oldID]
			g.dropConsumer(old)
			cg.members[m.id] = m
			cg.static[*req.InstanceID] = m.id
			cg.setAssignment(m, cmStable, m.epoch, m.assigned, nil)
			g.armConsumerSession(m, g.c.cfg.ConsumerSessionTimeout)
			return m, false, nil
		}
	}
	if len(cg.members) >= g.c.cfg.MaxSize {
		return nil, false, kerr.GroupMaxSizeReached
	}
	cg.members[m.id] = m
	if m.instanceID != nil {
		cg.static[*m.instanceID] = m.id
	}
	return m, true, nil
}

// resolveSubscriptions returns every member's subscribed topic ids, the partition count
// of every subscribed topic, and a signature of that metadata. Lock must be held.
func (g *group) resolveSubscriptions() (map[string]map[[16]byte]bool, map[[16]byte]int32, string) {
	cg := g.cg
	subs := make(map[string]map[[16]byte]bool, len(cg.members))
	meta := make(map[[16]byte]int32)
	names := make(map[string]TopicInfo)
	regexMatches := make(map[string][]TopicInfo)
	var all []string
	lookup := func(name string) (TopicInfo, bool) {
		if ti, ok := names[name]; ok {
			return ti, true
		}
		if g.c.topics == nil {
			return TopicInfo{}, false
		}
		ti, ok := g.c.topics.TopicByName(name)
		if ok {
			names[name] = ti
		}
		return ti, ok
	}
	for id, m := range cg.members {
		set := make(map[[16]byte]bool)
		for _, name := range m.topics {
			if ti, ok := lookup(name); ok && ti.Partitions > 0 {
				set[ti.ID] = true
				meta[ti.ID] = ti.Partitions
			}
		}
		if m.regex != nil {
			matches, done := regexMatches[m.regexSrc]
			if !done {
				if all == nil && g.c.topics != nil {
					all = g.c.topics.TopicNames()
				}
				for _, name := range all {
					if m.regex.MatchString(name) {
						if ti, ok := lookup(name); ok && ti.Partitions > 0 {
							matches = append(matches, ti)
						}
					}
				}
				regexMatches[m.regexSrc] = matches
			}
			for _, ti := range matches {
				set[ti.ID] = true
				meta[ti.ID] = ti.Partitions
			}
		}
		subs[id] = set
	}
	var sig strings.Builder
	for _, id := range sortedTopicIDs(meta) {
		sig.Write(id[:])
		sig.WriteString(strconv.Itoa(int(meta[id])))
	}
	return subs, meta, sig.String()
}

// computeTarget computes the target assignment at the group epoch. Lock must be held.
func (g *group) computeTarget(subs map[string]map[[16]byte]bool, meta map[[16]byte]int32, sig string) {
	cg := g.cg
	votes := make(map[string]int)
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	cg.assignor = AssignorUniform
	best := 0
	for _, name := range []string{AssignorUniform, AssignorRange} {
		if votes[name] > best {
			cg.assignor, best = name, votes[name]
		}
	}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ams := make([]assignMember, 0, len(ids))
	for _, id := range ids {
		ams = append(ams, assignMember{id: id, topics: subs[id], prev: cg.target[id]})
	}
	cg.target = assign(cg.assignor, ams, meta)
	cg.assignmentEpoch, cg.metaSig = cg.epoch, sig
	g.c.log.Info("consumer group target assignment", "group", g.name, "epoch", cg.epoch, "assignor", cg.assignor, "members", len(ids), "partitions", len(meta))
}

// reconcile moves m towards its target (Kafka's CurrentAssignmentBuilder). owned is
// what the member reported owning; nil means it did not say. Lock must be held.
func (cg *consumerGroup) reconcile(m *cmember, owned map[tp]bool) {
	ownsAny := func(set map[tp]bool) bool {
		if owned == nil {
			return true
		}
		for x := range set {
			if owned[x] {
				return true
			}
		}
		return false
	}
	switch m.state {
	case cmStable:
		if m.epoch != cg.assignmentEpoch {
			cg.nextAssignment(m, m.epoch, ownsAny)
		}
	case cmUnrevoked:
		if !ownsAny(m.revoking) {
			cg.nextAssignment(m, min(m.epoch+1, cg.assignmentEpoch), ownsAny)
		}
	case cmUnreleased:
		cg.nextAssignment(m, m.epoch, ownsAny)
	}
}

// nextAssignment computes m's next step towards its target: revoke what it must give up
// (staying at epoch), else take the new partitions that are free and move to the target
// epoch. Lock must be held.
func (cg *consumerGroup) nextAssignment(m *cmember, epoch int32, ownsAny func(map[tp]bool) bool) {
	target := cg.target[m.id]
	assigned := make(map[tp]int32, len(target))
	revoke := make(map[tp]bool)
	for x, e := range m.assigned {
		if target[x] {
			assigned[x] = e
		} else {
			revoke[x] = true
		}
	}
	var add []tp
	unreleased := false
	for x := range target {
		if _, ok := assigned[x]; ok {
			continue
		}
		if o, held := cg.owner[x]; held && o != m.id {
			unreleased = true
			continue
		}
		add = append(add, x)
	}
	if len(revoke) > 0 && ownsAny(revoke) {
		cg.setAssignment(m, cmUnrevoked, epoch, assigned, revoke)
		return
	}
	for _, x := range add {
		assigned[x] = cg.assignmentEpoch
	}
	state := cmStable
	if unreleased {
		state = cmUnreleased
	}
	cg.setAssignment(m, state, cg.assignmentEpoch, assigned, nil)
}

// setAssignment updates m and the partition owners. Lock must be held.
func (cg *consumerGroup) setAssignment(m *cmember, state cmState, epoch int32, assigned map[tp]int32, revoking map[tp]bool) {
	cg.release(m)
	m.state = state
	m.prevEpoch, m.epoch = m.epoch, epoch
	m.assigned, m.revoking = assigned, revoking
	for x := range m.assigned {
		cg.owner[x] = m.id
	}
	for x := range m.revoking {
		cg.owner[x] = m.id
	}
}

// release frees the partitions m holds. Lock must be held.
func (cg *consumerGroup) release(m *cmember) {
	for x := range m.assigned {
		if cg.owner[x] == m.id {
			delete(cg.owner, x)
		}
	}
	for x := range m.revoking {
		if cg.owner[x] == m.id {
			delete(cg.owner, x)
		}
	}
}

// trackRevocation starts the rebalance timeout when m starts revoking, and stops it when
// it is done. A member that does not revoke in time is removed. Lock must be held.
func (g *group) trackRevocation(m *cmember) {
	if m.state != cmUnrevoked {
		stopTimer(m.revokeTimer)
		m.revokeTimer = nil
		return
	}
	if m.revokeTimer != nil {
		return
	}
	m.revokeSeq++
	seq := m.revokeSeq
	m.revokeTimer = g.c.clock.AfterFunc(m.rebalanceTimeout, func() {
		g.c.onTimer(g, func() {
			if g.cg != nil && g.cg.members[m.id] == m && m.state == cmUnrevoked && m.revokeSeq == seq {
				g.removeConsumer(m, "member did not revoke its partitions within the rebalance timeout")
			}
		})
	})
}

// armConsumerSession starts m's session timer; like the classic one it is re-armed
// when it fires, never reset. Lock must be held.
func (g *group) armConsumerSession(m *cmember, d time.Duration) {
	m.timer = g.c.clock.AfterFunc(d, func() {
		g.c.onTimer(g, func() {
			if g.cg == nil || g.cg.members[m.id] != m {
				return
			}
			left := m.lastHeartbeat.Add(g.c.cfg.ConsumerSessionTimeout).Sub(g.c.clock.Now())
			if left > 0 {
				g.armConsumerSession(m, left)
				return
			}
			membersExpired.Inc()
			g.removeConsumer(m, "session timeout")
		})
	})
}

// removeConsumer removes m (it left, expired or was fenced), frees its partitions and
// computes a new target for the others. Lock must be held.
func (g *group) removeConsumer(m *cmember, reason string) {
	cg := g.cg
	g.c.log.Info("consumer group member removed", "group", g.name, "member", m.id, "reason", reason)
	g.dropConsumer(m)
	cg.epoch++
	subs, meta, sig := g.resolveSubscriptions()
	g.computeTarget(subs, meta, sig)
}

// dropConsumer forgets m without a new group epoch. Lock must be held.
func (g *group) dropConsumer(m *cmember) {
	cg := g.cg
	g.occupiedAt = g.c.clock.Now()
	stopTimer(m.timer)
	stopTimer(m.revokeTimer)
	cg.release(m)
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
}

// validateCommit checks an OffsetCommit against a consumer group: a commit without a
// member is allowed while the group has none; else the member must exist, use
// OffsetCommit v9+ and its current epoch, or an older one for partitions it was
// assigned at or before that epoch and still owns (KIP-1251). Lock must be held.
func (cg *consumerGroup) validateCommit(req CommitRequest) *kerr.Error {
	if req.Generation < 0 && len(cg.members) == 0 {
		return nil
	}
	m := cg.members[req.MemberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	if req.Version < 9 {
		return kerr.UnsupportedVersion
	}
	if req.Generation == m.epoch {
		return nil
	}
	if req.Generation > m.epoch {
		return kerr.StaleMemberEpoch
	}
	for _, o := range req.Offsets {
		e, ok := m.assigned[tp{o.Partition.TopicID, o.Partition.Partition}]
		if !ok || e > req.Generation {
			return kerr.StaleMemberEpoch
		}
	}
	return nil
}

// validateFetch checks an OffsetFetch v9+ against a consumer group: without member id
// and epoch it comes from an admin; else the member must exist at that epoch. Lock must
// be held.
func (cg *consumerGroup) validateFetch(memberID *string, epoch int32) *kerr.Error {
	if memberID == nil && epoch < 0 {
		return nil
	}
	var m *cmember
	if memberID != nil {
		m = cg.members[*memberID]
	}
	if m == nil {
		return kerr.UnknownMemberID
	}
	if epoch != m.epoch {
		return kerr.StaleMemberEpoch
	}
	return nil
}

// subscribedNames returns the topic names the members subscribe to. Lock must be held.
func (g *group) subscribedNames() map[string]bool {
	out := make(map[string]bool)
	var all []string
	for _, m := range g.cg.members {
		for _, t := range m.topics {
			out[t] = true
		}
		if m.regex != nil && g.c.topics != nil {
			if all == nil {
				all = g.c.topics.TopicNames()
			}
			for _, t := range all {
				if m.regex.MatchString(t) {
					out[t] = true
				}
			}
		}
	}
	return out
}

// DescribeConsumerGroup answers ConsumerGroupDescribe for one group: GROUP_ID_NOT_FOUND
// unless it is a consumer group. A consumer group whose members all left is Empty, with
// its epochs.
func (c *Coordinator) DescribeConsumerGroup(name string) ConsumerGroupDescription {
	if e := c.checkGroupID(name); e != nil {
		return ConsumerGroupDescription{Err: e, State: "Dead"}
	}
	g, e := c.lookup(name, false)
	if e != nil {
		return ConsumerGroupDescription{Err: e, State: "Dead"}
	}
	if g == nil {
		return ConsumerGroupDescription{Err: kerr.GroupIDNotFound, State: "Dead"}
	}
	defer c.release(g)
	cg := g.cg
	if cg == nil {
		return ConsumerGroupDescription{Err: kerr.GroupIDNotFound, State: "Dead"}
	}
	d := ConsumerGroupDescription{State: cg.stateName(), Epoch: cg.epoch, AssignmentEpoch: cg.assignmentEpoch, AssignorName: cg.assignor}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := cg.members[id]
		md := ConsumerMemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch,
			ClientID: m.clientID, ClientHost: m.clientHost, SubscribedTopicNames: m.topics,
			Assignment: toTopicPartitions(maps2set(m.assigned)), TargetAssignment: toTopicPartitions(cg.target[id]),
		}
		if m.regexSrc != "" {
			src := m.regexSrc
			md.SubscribedTopicRegex = &src
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// ownsSubset reports whether owned (nil: not said) holds only partitions of assigned.
func ownsSubset(owned []TopicPartitions, assigned map[tp]int32) bool {
	for _, t := range owned {
		for _, p := range t.Partitions {
			if _, ok := assigned[tp{t.TopicID, p}]; !ok {
				return false
			}
		}
	}
	return true
}

func maps2set(m map[tp]int32) map[tp]bool {
	out := make(map[tp]bool, len(m))
	for x := range m {
		out[x] = true
	}
	return out
}

func setsEqual(a, b map[tp]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for x := range a {
		if !b[x] {
			return false
		}
	}
	return true
}
