// Package group is KafScale's consumer-group coordinator: the classic group protocol
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with Apache Kafka's rebalance semantics,
// KIP-848 consumer groups with server-side assignment (ConsumerGroupHeartbeat), and
// committed offsets stored in etcd through meta. docs/groups.md describes the behaviour.
//
// Membership lives in memory only: after a restart the coordinator knows no member, so
// clients get UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION and rejoin, as Kafka's clients do
// after a coordinator moves. Committed offsets are durable (meta's groups/ keys). A group
// whose members all left stays in memory, Empty, as in Kafka, until DeleteGroups deletes
// it or ExpireOffsets finds it without committed offsets (expiry.go).
//
// Goroutines: requests arrive on the broker's dispatcher goroutines; rebalance and
// session timers fire on timer goroutines. JoinGroup and SyncGroup answers that must
// wait for other members are given later, from whichever goroutine completes the
// rebalance, through the reply function the request came with. Reply functions must not
// block; they are never called with a lock held.
//
// Lock order: commit stripe -> Coordinator.mu -> group.mu -> (whatever Topics takes).
// A group's state is guarded by its own mu; Coordinator.mu guards only the map of groups. Offset commits, offset
// deletes and group deletes of one group are serialized by the group's commit stripe,
// held across the etcd write, so two commits of one group reach etcd in the order they
// were validated.
package group

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
)

var (
	rebalances      = metrics.NewCounter(`kafscale_group_rebalances_total`)
	membersExpired  = metrics.NewCounter(`kafscale_group_members_expired_total`)
	offsetCommits   = metrics.NewCounter(`kafscale_group_offset_commits_total`)
	offsetStoreErrs = metrics.NewCounter(`kafscale_group_offset_store_errors_total`)
)

// Store keeps committed offsets; *meta.Store implements it.
type Store interface {
	CommitOffsets(ctx context.Context, group string, offsets []meta.GroupOffset) error
	FetchOffsets(ctx context.Context, group string) ([]meta.GroupOffset, error)
	DeleteOffsets(ctx context.Context, group string, parts []meta.PartitionKey) error
	DeleteGroup(ctx context.Context, group string) (int64, error)
	GroupExists(ctx context.Context, group string) (bool, error)
	ListGroups(ctx context.Context) ([]string, error)
}

// commitStripes is the number of commit locks groups are hashed onto.
const commitStripes = 256

// Coordinator coordinates every consumer group of this broker.
type Coordinator struct {
	cfg    Config
	store  Store
	topics Topics // may be nil: no topic exists
	log    *slog.Logger
	clock  clock
	seed   maphash.Seed

	stripes [commitStripes]sync.Mutex

	mu     sync.Mutex // guards groups and closed
	groups map[string]*group
	closed bool

	// ownsFn reports whether this broker coordinates a group (nil: every group). Set
	// before serving, read-only after.
	ownsFn func(group string) bool

	// started dates offset expiry (expiry.go): what happened to a group before the
	// coordinator started is unknown. Read-only.
	started time.Time
}

// New returns a coordinator storing offsets in store and assigning the partitions of
// topics (KIP-848 groups). cfg must be valid.
func New(cfg Config, store Store, topics Topics, log *slog.Logger) *Coordinator {
	return newCoordinator(cfg, store, topics, log, realClock{})
}

func newCoordinator(cfg Config, store Store, topics Topics, log *slog.Logger, clk clock) *Coordinator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{
		cfg: cfg, store: store, topics: topics, log: log, clock: clk, seed: maphash.MakeSeed(),
		groups: make(map[string]*group), started: clk.Now(),
	}
}

// Config returns the coordinator's settings.
func (c *Coordinator) Config() Config { return c.cfg }

// Close answers every JoinGroup and SyncGroup still waiting with NOT_COORDINATOR (so
// clients look for the coordinator again), stops every timer and forgets all groups.
// Later requests get COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.groups = make(map[string]*group)
	c.mu.Unlock()
	unloadAll(groups)
}

// unloadAll unloads groups no longer in the coordinator's map: their waiting requests get
// NOT_COORDINATOR.
func unloadAll(groups []*group) {
	for _, g := range groups {
		g.mu.Lock()
		g.unload()
		out := g.takeOutbox()
		g.mu.Unlock()
		out.run()
	}
}

// checkGroupID validates a group id from a request, and that this broker coordinates it.
func (c *Coordinator) checkGroupID(id string) *kerr.Error {
	if id == "" || len(id) > c.cfg.MaxGroupIDBytes {
		return kerr.InvalidGroupID
	}
	if !c.owns(id) {
		return kerr.NotCoordinator
	}
	return nil
}

// ErrNotCoordinator is wrapped by a Store error when this broker lost the group's
// coordination meanwhile (its write was fenced): the client gets NOT_COORDINATOR and looks
// the coordinator up again.
var ErrNotCoordinator = errors.New("not the group's coordinator")

// storeCode is what a request whose store operation failed answers: NOT_COORDINATOR when
// the group moved to another broker, else COORDINATOR_NOT_AVAILABLE, which clients retry.
func storeCode(err error) *kerr.Error {
	if errors.Is(err, ErrNotCoordinator) {
		return kerr.NotCoordinator
	}
	return kerr.CoordinatorNotAvailable
}

// SetOwnership makes the coordinator answer only for the groups owns reports (a cluster
// spreads groups over brokers); nil, the default, owns every group. Call before serving.
func (c *Coordinator) SetOwnership(owns func(group string) bool) { c.ownsFn = owns }

func (c *Coordinator) owns(group string) bool { return c.ownsFn == nil || c.ownsFn(group) }

// Unload forgets the groups lost reports (their coordination moved to another broker):
// their waiting JoinGroup and SyncGroup requests get NOT_COORDINATOR, so their members
// find the new coordinator; their committed offsets stay in the store, where the new
// coordinator finds them. An Empty group without offsets is forgotten for good (its
// protocol type and generation lived here only).
func (c *Coordinator) Unload(lost func(group string) bool) {
	c.mu.Lock()
	var gone []*group
	for name, g := range c.groups {
		if lost(name) {
			gone = append(gone, g)
			delete(c.groups, name)
		}
	}
	c.mu.Unlock()
	unloadAll(gone)
}

// stripe returns the commit lock of a group.
func (c *Coordinator) stripe(name string) *sync.Mutex {
	return &c.stripes[maphash.String(c.seed, name)%commitStripes]
}

// lookup returns the live group called name, creating it when create is set, and
// returns it locked; nil (and an error code when the coordinator is closed) when there
// is none. The caller must finish with c.release(g).
func (c *Coordinator) lookup(name string, create bool) (*group, *kerr.Error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, kerr.CoordinatorNotAvailable
		}
		g := c.groups[name]
		if g == nil && create {
			g = newGroup(c, name)
			c.groups[name] = g
		}
		c.mu.Unlock()
		if g == nil {
			return nil, nil
		}
		g.mu.Lock()
		if !g.dead {
			return g, nil
		}
		// Dropped between the map read and the lock: look again.
		g.mu.Unlock()
	}
}

// release unlocks g, then sends the answers it queued. Lock must be held.
func (c *Coordinator) release(g *group) {
	out := g.takeOutbox()
	g.mu.Unlock()
	out.run()
}

// onTimer runs fn on g, locked, unless g was dropped since the timer was set.
func (c *Coordinator) onTimer(g *group, fn func()) {
	g.mu.Lock()
	if g.dead {
		g.mu.Unlock()
		return
	}
	fn()
	c.release(g)
}

// MaxNameBytes is the longest protocol type, protocol name, group.instance.id or member
// id a classic group keeps: the longest string a non-flexible version can carry (its
// length is an int16), so every version of every group API can echo it.
const MaxNameBytes = math.MaxInt16

// memberIDSuffix is the length of what newMemberID appends to its prefix: a dash and a
// UUID.
const memberIDSuffix = 1 + 36

// newMemberID returns a member id as Kafka makes them: the client id (or the
// group.instance.id of a static member), a dash and a random UUID. The prefix is cut so
// the id stays within MaxNameBytes: a client id may be 32,767 bytes long (Kafka does not
// cut it; the id then cannot be stored in its group record).
func newMemberID(clientID string, instanceID *string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	if n := MaxNameBytes - memberIDSuffix; len(prefix) > n {
		for n > 0 && !utf8.RuneStart(prefix[n]) {
			n--
		}
		prefix = prefix[:n]
	}
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// outbox holds answers queued under a group's lock, sent after it is released.
type outbox []func()

func (o outbox) run() {
	for _, f := range o {
		f()
	}
}
