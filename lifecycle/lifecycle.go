// Package lifecycle runs the background work on the data of the partitions a broker leads,
// one file per job: checkpointing (checkpoint.go), merging flush extents into segments
// (merge.go, merge_read.go) with the trimming of segments below the log start (trim.go),
// log compaction (compact.go), retention (retention.go) and garbage collection (gc.go).
// docs/object-lifecycle.md and docs/compaction.md describe what they do and why it is safe.
//
// What the jobs need from the broker is Host (the partitions it leads, its fence, its
// flusher's commit floor, topic configs) and Deps (the metadata store, the object store, the
// registration); the broker keeps request handling and fencing, and calls the exported
// checkpoint methods from takeover, DeleteRecords, bucket metadata and Close.
//
// Goroutines: Start runs one goroutine per job: checkpoints, retention, merging (which also
// trims and compacts, so a partition's index prefix and segments have one writer) and GC.
// Wait joins them. The merging goroutine builds and uploads a window's segments on up to
// mergeUploads goroutines of its own, one per partition, and waits for them. Ownership:
// Part.trimmed belongs to the merging goroutine, gcSeen to the GC goroutine; Part.cp is
// guarded by cpMu, which serializes every checkpoint write (periodic, final, merge, GC,
// takeover), so an older checkpoint never overwrites a newer.
//
// Lock order: Jobs.cpMu -> the broker's locks (Host.Partitions takes Broker.mu); the rest
// of the broker's lock order is written in package broker's doc comment.
package lifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
)

// Host is what the jobs need from the broker. Its methods are safe from any goroutine.
type Host interface {
	// Partitions returns the partitions the broker leads.
	Partitions() []Partition
	// FenceRev returns the fence revision fenced writes compare against.
	FenceRev() int64
	// RefreshFence re-reads the broker's fence after a fenced write failed: it resigns
	// the partitions no longer assigned to the broker and adopts the new revision, or
	// stops the broker and fails when this incarnation was replaced.
	RefreshFence(ctx context.Context) (*meta.FenceState, error)
	// Stopped reports whether this incarnation was replaced or lost its session: it then
	// deletes nothing.
	Stopped() bool
	// StopServing ends every leadership of this incarnation, saying why.
	StopServing(why string)
	// CommitFloor returns the flusher's commit floor: every lower flush sequence is
	// committed.
	CommitFloor() uint64
	// TopicConfig returns a topic config's value (its default when the topic has none)
	// and its default.
	TopicConfig(t *metapb.Topic, name string) (value, def string)
}

// Partition is one partition the broker leads.
type Partition struct {
	Topic   *metapb.Topic
	TopicID [16]byte
	Index   int32
	Log     *partition.Log
	State   *Part
	// MaxMessageBytes is the topic's max.message.bytes, which bounds what compaction
	// decompresses of one batch.
	MaxMessageBytes int
}

// Part is the lifecycle state of one led partition, kept beside its Log.
type Part struct {
	cp *metapb.Checkpoint // guarded by Jobs.cpMu once the partition is published
	// trimmed is the log start up to which segments were deleted (trimPartition); owned
	// by the merging goroutine.
	trimmed int64
}

// NewPart returns the state of a partition taken over with checkpoint cp.
func NewPart(cp *metapb.Checkpoint) *Part { return &Part{cp: cp} }

// Checkpoint returns the partition's last written checkpoint. The checkpoint lock
// (Jobs.LockCheckpoints) must be held.
func (p *Part) Checkpoint() *metapb.Checkpoint { return p.cp }

// Deps are the parts the jobs work with.
type Deps struct {
	Meta  *meta.Store
	Store objstore.Store
	// Reg is this broker incarnation's registration: GC fences its deletes on it.
	Reg    *meta.Registration
	NodeID int32
	Host   Host
	Log    *slog.Logger
}

// Intervals are how often the jobs not configured by Config run.
type Intervals struct {
	Checkpoint time.Duration // checkpoint.interval
	Retention  time.Duration // log.retention.check.interval.ms
}

// Jobs runs the lifecycle jobs of one broker incarnation.
type Jobs struct {
	cfg    Config
	nodeID int32
	reg    *meta.Registration
	meta   *meta.Store
	store  objstore.Store
	host   Host
	log    *slog.Logger

	ctx context.Context // set by Start, before any job runs; its end stops them
	wg  sync.WaitGroup

	// cpMu serializes checkpoint writes (periodic, final, merge, GC, takeover) so a
	// checkpoint with older chain positions never overwrites a newer one, and guards
	// Part.cp.
	cpMu sync.Mutex

	// gcSeen is owned by the GC goroutine: per listed prefix, when GC first saw each
	// unreferenced object (gc.go).
	gcSeen map[string]map[string]time.Time
}

// New returns the jobs of a broker incarnation, not yet running: takeover uses its
// checkpoint methods before Start.
func New(cfg Config, d Deps) *Jobs {
	return &Jobs{
		cfg: cfg, nodeID: d.NodeID, reg: d.Reg, meta: d.Meta, store: d.Store, host: d.Host, log: d.Log,
		gcSeen: make(map[string]map[string]time.Time),
	}
}

// Start runs every job on a goroutine of its own until ctx ends.
func (j *Jobs) Start(ctx context.Context, iv Intervals) {
	j.ctx = ctx
	j.every(iv.Checkpoint, j.checkpointOnce)
	j.every(iv.Retention, j.retentionOnce)
	j.every(j.cfg.Interval, j.mergeAll)
	j.every(j.cfg.GCInterval, j.gcOnce)
}

// Wait returns once every job started by Start has returned (after ctx ended).
func (j *Jobs) Wait() { j.wg.Wait() }

// every runs f every interval on a goroutine of its own until ctx ends.
func (j *Jobs) every(interval time.Duration, f func()) {
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-j.ctx.Done():
				return
			case <-t.C:
				f()
			}
		}
	}()
}
