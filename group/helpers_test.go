package group

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/meta"
)

// fakeClock fires timers synchronously from Advance, in deadline order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time forward by d, running every timer due on the way.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.stopped || t.fired {
				continue
			}
			live = append(live, t)
			if !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.fired = true
		c.mu.Unlock()
		next.f()
	}
}

// memStore is an in-memory Store.
type memStore struct {
	mu      sync.Mutex
	offsets map[string]map[meta.PartitionKey]meta.GroupOffset
	fail    error
	commits int
}

func newMemStore() *memStore {
	return &memStore{offsets: make(map[string]map[meta.PartitionKey]meta.GroupOffset)}
}

func (s *memStore) CommitOffsets(_ context.Context, group string, offs []meta.GroupOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.commits++
	if s.offsets[group] == nil {
		s.offsets[group] = make(map[meta.PartitionKey]meta.GroupOffset)
	}
	for _, o := range offs {
		s.offsets[group][o.Partition] = o
	}
	return nil
}

func (s *memStore) FetchOffsets(_ context.Context, group string) ([]meta.GroupOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []meta.GroupOffset
	for _, o := range s.offsets[group] {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b meta.GroupOffset) int { return int(a.Partition.Partition - b.Partition.Partition) })
	return out, nil
}

func (s *memStore) DeleteOffsets(_ context.Context, group string, parts []meta.PartitionKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, p := range parts {
		delete(s.offsets[group], p)
	}
	if len(s.offsets[group]) == 0 {
		delete(s.offsets, group)
	}
	return nil
}

func (s *memStore) DeleteGroup(_ context.Context, group string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	n := int64(len(s.offsets[group]))
	delete(s.offsets, group)
	return n, nil
}

func (s *memStore) GroupExists(_ context.Context, group string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	return len(s.offsets[group]) > 0, nil
}

func (s *memStore) ListGroups(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []string
	for g := range s.offsets {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}

var errStoreDown = errors.New("etcd unreachable")

// fakeTopics is a Topics whose topics a test sets.
type fakeTopics struct {
	mu     sync.Mutex
	byName map[string]TopicInfo
}

// set creates or resizes a topic; its id is derived from its name's first byte and
// length, so tests can predict it.
func (f *fakeTopics) set(name string, partitions int32) TopicInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	ti := TopicInfo{Name: name, ID: topicIDOf(name), Partitions: partitions}
	f.byName[name] = ti
	return ti
}

func (f *fakeTopics) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byName, name)
}

func topicIDOf(name string) [16]byte {
	var id [16]byte
	copy(id[:], name)
	id[15] = byte(len(name))
	return id
}

func (f *fakeTopics) TopicByName(name string) (TopicInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ti, ok := f.byName[name]
	return ti, ok
}

func (f *fakeTopics) TopicByID(id [16]byte) (TopicInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ti := range f.byName {
		if ti.ID == id {
			return ti, true
		}
	}
	return TopicInfo{}, false
}

func (f *fakeTopics) TopicNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// harness is a coordinator on a fake clock, an in-memory store and fake topics.
type harness struct {
	t      *testing.T
	c      *Coordinator
	clk    *fakeClock
	store  *memStore
	topics *fakeTopics
}

const (
	testSession   = 10 * time.Second
	testRebalance = 30 * time.Second
	testDelay     = 3 * time.Second
	// formDelay is how long members joining an empty group together wait: the initial
	// delay, extended once because more than one member joined.
	formDelay = 2 * testDelay
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = testDelay
	h := &harness{t: t, clk: newFakeClock(), store: newMemStore(), topics: &fakeTopics{byName: make(map[string]TopicInfo)}}
	h.c = newCoordinator(cfg, h.store, h.topics, slog.New(slog.DiscardHandler), h.clk)
	t.Cleanup(h.c.Close)
	return h
}

// consumerMeta is a consumer protocol subscription to topics.
func consumerMeta(topics ...string) []byte {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	return md.AppendTo(nil)
}

// joinReq is a JoinGroup v4+ of a consumer using the range assignor.
func joinReq(group, memberID string) JoinRequest {
	return JoinRequest{
		Group: group, MemberID: memberID, ClientID: "client", ClientHost: "/127.0.0.1",
		SessionTimeout: testSession, RebalanceTimeout: testRebalance,
		ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: consumerMeta("t")}},
		RequireKnownMemberID: true,
	}
}

// wait is an answer that may come later.
type wait[T any] struct {
	t  *testing.T
	ch chan T
}

func newWait[T any](t *testing.T) (*wait[T], func(T)) {
	w := &wait[T]{t: t, ch: make(chan T, 2)}
	return w, func(v T) { w.ch <- v }
}

// get returns the answer, failing the test if there is none yet.
func (w *wait[T]) get() T {
	w.t.Helper()
	select {
	case v := <-w.ch:
		select {
		case <-w.ch:
			w.t.Fatal("request answered twice")
		default:
		}
		return v
	default:
		w.t.Fatal("request not answered yet")
		panic("unreachable")
	}
}

// none fails the test if the request was answered.
func (w *wait[T]) none() {
	w.t.Helper()
	select {
	case v := <-w.ch:
		w.t.Fatalf("request answered too early: %+v", v)
	default:
	}
}

func (h *harness) join(req JoinRequest) *wait[JoinResponse] {
	w, reply := newWait[JoinResponse](h.t)
	h.c.Join(req, reply)
	return w
}

func (h *harness) sync(req SyncRequest) *wait[SyncResponse] {
	w, reply := newWait[SyncResponse](h.t)
	h.c.Sync(req, reply)
	return w
}

// joinNew runs the KIP-394 round trip and returns the member's parked JoinGroup.
func (h *harness) joinNew(req JoinRequest) (string, *wait[JoinResponse]) {
	h.t.Helper()
	first := h.join(req).get()
	if first.Err != kerr.MemberIDRequired || first.MemberID == "" {
		h.t.Fatalf("first JoinGroup = %+v, want MEMBER_ID_REQUIRED with a member id", first)
	}
	req.MemberID = first.MemberID
	return first.MemberID, h.join(req)
}

// stable forms a stable group of n members and returns their JoinGroup answers, the
// leader's first.
func (h *harness) stable(group string, n int) []JoinResponse {
	h.t.Helper()
	var waits []*wait[JoinResponse]
	for range n {
		_, w := h.joinNew(joinReq(group, ""))
		waits = append(waits, w)
	}
	h.clk.Advance(formDelay)
	var resps []JoinResponse
	for _, w := range waits {
		r := w.get()
		if r.Err != nil {
			h.t.Fatalf("JoinGroup = %+v", r)
		}
		resps = append(resps, r)
	}
	slices.SortFunc(resps, func(a, b JoinResponse) int {
		if a.MemberID == a.LeaderID {
			return -1
		}
		if b.MemberID == b.LeaderID {
			return 1
		}
		return 0
	})
	h.syncAll(group, resps)
	return resps
}

// syncAll sends every member's SyncGroup (the leader assigning "a-<member id>") and
// checks each gets its assignment.
func (h *harness) syncAll(group string, resps []JoinResponse) {
	h.t.Helper()
	var waits []*wait[SyncResponse]
	for _, r := range resps {
		req := SyncRequest{Group: group, MemberID: r.MemberID, Generation: r.Generation}
		if r.MemberID == r.LeaderID {
			for _, m := range r.Members {
				req.Assignments = append(req.Assignments, Assignment{MemberID: m.MemberID, Assignment: []byte("a-" + m.MemberID)})
			}
		}
		waits = append(waits, h.sync(req))
	}
	for i, w := range waits {
		r := w.get()
		if r.Err != nil || string(r.Assignment) != "a-"+resps[i].MemberID {
			h.t.Fatalf("SyncGroup of %s = %+v", resps[i].MemberID, r)
		}
	}
}

func (h *harness) heartbeat(group, member string, gen int32) *kerr.Error {
	return h.c.Heartbeat(HeartbeatRequest{Group: group, MemberID: member, Generation: gen})
}

func (h *harness) state(group string) string {
	return h.c.DescribeGroup(context.Background(), group).State
}
