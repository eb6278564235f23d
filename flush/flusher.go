// Package flush turns appended record batches into flush objects: it collects the batches of
// every partition this broker leads, cuts an object when flush.bytes or flush.interval is
// reached, uploads it (one object per broker per flush, whatever the partition count),
// commits it through a Committer strictly in flush order, and only then tells each partition
// that its batches are durable.
//
// Goroutines: the cutter goroutine (run) owns cutting and starts each upload on a goroutine
// of its own (at most UploadConcurrency at once, so one slow PUT does not hold up the next
// flushes; a PUT slower than most gets a hedge on a goroutine of its own, hedge.go); the
// committer goroutine (commitLoop) owns the commit sequence, waits for each flush's upload
// in cut order and calls Sink.Committed/Failed. Appenders only touch the current open Flush
// under f.mu.
//
// Lock order: a Sink's own lock -> Flusher.mu. The committer never holds f.mu while it calls a
// Sink, so a Sink may call Append from inside its lock.
package flush

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/internal/histbuckets"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/producer"
	"github.com/kafscale/kafscale/segment"
)

// Config holds the flusher's settings.
type Config struct {
	// FlushBytes cuts an object once this many batch bytes are pending (flush.bytes).
	FlushBytes int64
	// FlushInterval spaces cuts (flush.interval): at most one object per interval below
	// FlushBytes, so no batch waits longer than this for its cut, and a batch that arrives
	// more than an interval after the last cut is cut at once.
	FlushInterval time.Duration
	// BufferBytes bounds the bytes appended but not yet committed (buffer.bytes); Reserve
	// waits beyond it.
	BufferBytes int64
	// RetryMin and RetryMax bound the backoff between upload or commit attempts.
	RetryMin, RetryMax time.Duration
	// AttemptTimeout bounds one upload or commit attempt.
	AttemptTimeout time.Duration
	// UploadConcurrency bounds the flush objects uploading at once; commits stay in order.
	UploadConcurrency int
	// MaxCommitDelay is the longest time after the start of its first upload attempt that
	// an object may still be committed (gc.grace/2): no commit attempt runs past it (each
	// attempt's deadline is capped there), and past it the object is uploaded again under a
	// new key, so GC (which deletes unreferenced objects gc.grace after it first saw them)
	// never deletes an object whose commit then lands (docs/object-lifecycle.md). 0
	// disables the rule.
	MaxCommitDelay time.Duration
	// HedgeQuantile hedges slow uploads (hedge.go): a flush object's PUT that has not
	// answered after this quantile of the recent PUTs' latencies gets a second, identical
	// PUT, and the first to succeed wins. 0.9 hedges about a tenth of the objects (10% more
	// PUTs); 0 turns hedging off.
	HedgeQuantile float64
	// HedgeMinDelay is the shortest hedge delay, whatever the quantile says: a store whose
	// PUTs take a few milliseconds (a local disk, S3 Express) gains nothing worth a second
	// request from a hedge.
	HedgeMinDelay time.Duration
}

// DefaultConfig returns the starting defaults of DESIGN.md (4 MiB / 100 ms).
func DefaultConfig() Config {
	return Config{
		FlushBytes:        4 << 20,
		FlushInterval:     100 * time.Millisecond,
		BufferBytes:       256 << 20,
		RetryMin:          50 * time.Millisecond,
		RetryMax:          5 * time.Second,
		AttemptTimeout:    30 * time.Second,
		UploadConcurrency: 4,
		HedgeQuantile:     0.9,
		HedgeMinDelay:     50 * time.Millisecond,
	}
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.FlushBytes <= 0:
		return fmt.Errorf("--flush-bytes must be >0 (set to %d)", c.FlushBytes)
	case c.FlushInterval <= 0:
		return fmt.Errorf("--flush-interval must be >0 (set to %s)", c.FlushInterval)
	case c.BufferBytes < c.FlushBytes:
		return fmt.Errorf("--buffer-bytes must be >= --flush-bytes (set to %d, flush bytes %d)", c.BufferBytes, c.FlushBytes)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("flush retry backoff must satisfy 0 < min <= max (set to %s, %s)", c.RetryMin, c.RetryMax)
	case c.AttemptTimeout <= 0:
		return fmt.Errorf("--flush-attempt-timeout must be >0 (set to %s)", c.AttemptTimeout)
	case c.UploadConcurrency <= 0:
		return fmt.Errorf("--upload-concurrency must be >0 (set to %d)", c.UploadConcurrency)
	case !(c.HedgeQuantile == 0 || (c.HedgeQuantile > 0 && c.HedgeQuantile < 1)):
		return fmt.Errorf("--upload-hedge-quantile must be 0 (off) or between 0 and 1 (set to %g)", c.HedgeQuantile)
	case c.HedgeMinDelay < 0:
		return fmt.Errorf("--upload-hedge-min-delay must be >=0 (set to %s)", c.HedgeMinDelay)
	}
	return nil
}

// Batch is one record batch whose offsets are assigned. Data aliases the produce request's
// frame, which the partition keeps alive; nobody writes to it after the offset patch.
type Batch struct {
	Data         []byte
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64
	// Idempotent marks a batch of an idempotent producer: its producer id, epoch and
	// sequence range travel in the object footer's producer-state delta.
	Idempotent    bool
	ProducerID    int64
	ProducerEpoch int16
	FirstSeq      int32
	LastSeq       int32
}

// Sink is a partition's view of the flusher. Both methods are called from the committer
// goroutine, in commit order, without any flusher lock held.
type Sink interface {
	// Committed reports that batches (in append order) are durable in object key, committed
	// at sequence seq, at ext.
	Committed(key string, seq uint64, ext segment.Extent, batches []Batch)
	// Failed reports that batches will never be committed (the broker was fenced or is
	// shutting down without a working store).
	Failed(batches []Batch, err error)
}

// PartitionID names a partition and the leader epoch its batches were appended in.
type PartitionID struct {
	TopicID     [16]byte
	Partition   int32
	LeaderEpoch int32
}

// Committer makes an uploaded object part of the log. Commit must be idempotent for a given
// seq: a retry after a timeout or a lost reply may find its own earlier commit, which may
// name another upload of the same bytes (the object was uploaded again past
// MaxCommitDelay) or another void list, and then reports that earlier commit. It returns an
// error wrapping ErrFenced when this broker incarnation may no longer commit at all.
type Committer interface {
	Commit(ctx context.Context, seq uint64, obj Object) (Committed, error)
}

// GroupCommitter is a Committer that can also commit consecutive objects at once.
// CommitGroup makes one attempt to commit objs[i] at seqs[i], all or none; it returns one
// Committed per object when all were committed, and an error otherwise (the flusher then
// commits them one by one with Commit, so CommitGroup need not tell a fence from an
// earlier commit). MaxCommitGroup bounds len(seqs).
type GroupCommitter interface {
	Committer
	CommitGroup(ctx context.Context, seqs []uint64, objs []Object) ([]Committed, error)
	MaxCommitGroup() int
}

// Committed is what a Committer committed for one seq.
type Committed struct {
	// Key is the object the committed entry names: obj.Key, or the key of an earlier
	// upload of the same bytes whose commit landed although its reply was lost.
	Key string
	// Voided lists the partitions whose batches were committed as void (their leadership
	// moved while the object was in flight): they never become visible.
	Voided []PartitionID
}

// ErrVoided is given to a Sink whose batches were committed as void.
var ErrVoided = errors.New("partition leadership moved before its batches were committed")

// ErrFenced is returned (wrapped) by a Committer whose fence moved.
var ErrFenced = errors.New("broker fenced")

// ErrClosed is returned to appenders and waiters after Close gave up on pending data.
var ErrClosed = errors.New("flusher closed")

// Object describes an uploaded flush object for the Committer.
type Object struct {
	Key       string
	Size      int64
	FooterPos int64
	FooterLen int64
	// Partitions lists the partitions (with epochs) whose batches the object holds.
	Partitions []PartitionID
	// Void lists partitions of this object already voided by an earlier commit: their
	// batches must be committed as void too.
	Void []PartitionID
}

// Flush is one object in the making. Waiters use Done and Err.
type Flush struct {
	seq    uint64
	groups []*group
	index  map[Sink]int
	bytes  int64
	opened time.Time
	done   chan struct{}
	err    error          // set before done is closed
	failed map[Sink]error // partitions whose batches did not commit; set before done is closed
	forced bool           // cut now (Flush), whatever the interval

	// filled by the upload goroutine before uploadDone is closed
	uploadDone chan struct{}
	uploadOK   bool
	uploaded   time.Time // when the first attempt to upload fl.key started
	key        string
	parts      [][]byte
	size       int64
	records    int64 // offsets the object's batches span, for kafscale_flush_object_records
	footer     segment.Footer
}

type group struct {
	sink    Sink
	id      PartitionID
	batches []Batch
}

// Done is closed when the flush is committed or has failed.
func (fl *Flush) Done() <-chan struct{} { return fl.done }

// Err is the flush's outcome as a whole; valid after Done is closed.
func (fl *Flush) Err() error { return fl.err }

// ErrFor is the outcome for one partition's batches: non-nil when the flush failed or the
// partition's batches were voided. Valid after Done is closed.
func (fl *Flush) ErrFor(s Sink) error {
	if fl.err != nil {
		return fl.err
	}
	return fl.failed[s]
}

// Wait blocks until the flush is done or ctx ends, and returns ErrFor(s).
func (fl *Flush) Wait(ctx context.Context, s Sink) error {
	select {
	case <-fl.done:
		return fl.ErrFor(s)
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	flushObjects    = metrics.NewCounter(`kafscale_flush_objects_total`)
	flushBytes      = metrics.NewCounter(`kafscale_flush_bytes_total`)
	flushPartitions = metrics.NewPrometheusHistogramExt(`kafscale_flush_partitions`, histbuckets.Counts)
	// flushObjectBytes is the size of each committed flush object (footer included).
	flushObjectBytes = metrics.NewPrometheusHistogramExt(`kafscale_flush_object_bytes`, histbuckets.Bytes)
	// flushObjectRecords is the records of each committed flush object (the offsets its
	// batches span: what a record-count bound or a per-record cost reads).
	flushObjectRecords = metrics.NewPrometheusHistogramExt(`kafscale_flush_object_records`, histbuckets.Counts)
	// uploadDuration is from a flush object's first upload attempt to its object stored,
	// retries and backoff included: the share of an acks=all produce spent on the store,
	// whatever the store (kafscale_s3_upload_duration_ms is S3's, per attempt).
	uploadDuration = metrics.NewPrometheusHistogramExt(`kafscale_flush_upload_duration_seconds`, histbuckets.Seconds)
	// pendingBytes is Flusher.pending: bytes reserved or appended and not yet committed,
	// what --buffer-bytes bounds.
	pendingBytes = metrics.NewGauge(`kafscale_flush_pending_bytes`, nil)
	uploadErrors = metrics.NewCounter(`kafscale_flush_upload_errors_total`)
	commitErrors = metrics.NewCounter(`kafscale_flush_commit_errors_total`)
	// In milliseconds (the seed's names). These are Prometheus histograms, exported at
	// zero from the start (a VictoriaMetrics histogram is absent until first observed).
	commitDurationMs = metrics.NewPrometheusHistogramExt(`kafscale_flush_commit_duration_ms`, histbuckets.Milliseconds)
	flushLatencyMs   = metrics.NewPrometheusHistogramExt(`kafscale_flush_append_to_commit_ms`, histbuckets.Milliseconds)
	// Group commits: transactions that committed several flush objects at once, and
	// groups that did not commit whole and went one by one.
	groupCommits         = metrics.NewCounter(`kafscale_flush_group_commits_total`)
	groupCommitFallbacks = metrics.NewCounter(`kafscale_flush_group_commit_fallbacks_total`)
)

// Flusher collects, uploads and commits flush objects for one broker incarnation.
type Flusher struct {
	cfg       Config
	store     objstore.Store
	committer Committer
	keyFn     func() string
	log       *slog.Logger
	hedger    *hedger // nil when hedging is off

	mu       sync.Mutex // guards the fields below
	cur      *Flush
	nextSeq  uint64
	pending  int64         // bytes appended and not yet committed or failed
	space    chan struct{} // closed (and replaced) when pending shrinks
	closing  bool
	failed   error // sticky: once fenced, every later append fails
	lastDone *Flush
	tick     chan struct{} // closed (and replaced) after every finished flush

	stopped bool // the cutter has exited: nothing appended now would ever be cut

	kick    chan struct{}
	uploads chan struct{} // semaphore: one token per upload in progress
	commitQ chan *Flush
	stopCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	// health is the last upload or commit failure ("" once an attempt succeeds again).
	health atomic.Value
	// floor is the lowest sequence not yet committed or failed: every smaller one is done.
	floor atomic.Uint64

	// lastCut is owned by the cutter goroutine: when it last cut an object (or started). Spacing cuts from the last cut rather than from each object's first
	// batch gives the same bound on PUTs per second, and saves a request that arrives after
	// a quiet spell (or a client whose next request waited for its previous ack) most of an
	// interval of waiting: a client with one request in flight cycles once per interval
	// instead of once per interval plus upload and commit.
	lastCut time.Time

	// voided is owned by the committer goroutine: partitions (with epochs) voided by a
	// commit, each with the last seq that can still hold its batches. Their batches in
	// later objects are voided too, never reported committed. A voided partition's Log
	// resigns when told (Sink.Failed), so no batch of it enters a flush cut after that;
	// the entry goes once that flush is done, which keeps the map bounded.
	voided map[PartitionID]uint64
}

// New starts a flusher. keyFn names each new object (flush/<broker>/<incarnation>/<ulid>).
func New(cfg Config, store objstore.Store, committer Committer, keyFn func() string, log *slog.Logger) *Flusher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Flusher{
		cfg:       cfg,
		store:     store,
		committer: committer,
		keyFn:     keyFn,
		log:       log,
		space:     make(chan struct{}),
		tick:      make(chan struct{}),
		kick:      make(chan struct{}, 1),
		uploads:   make(chan struct{}, max(cfg.UploadConcurrency, 1)),
		commitQ:   make(chan *Flush, max(cfg.UploadConcurrency, 1)),
		stopCtx:   ctx,
		stop:      cancel,
		voided:    make(map[PartitionID]uint64),
	}
	if cfg.HedgeQuantile > 0 {
		f.hedger = newHedger(cfg.HedgeQuantile, cfg.HedgeMinDelay)
	}
	f.cur = f.newFlush()
	f.wg.Add(2)
	go f.run()
	go f.commitLoop()
	return f
}

func (f *Flusher) newFlush() *Flush {
	fl := &Flush{seq: f.nextSeq, index: make(map[Sink]int), done: make(chan struct{}), uploadDone: make(chan struct{})}
	f.nextSeq++
	return fl
}

// NextSeq returns the sequence number the next cut object will carry. A partition taken
// over now starts its chain there.
func (f *Flusher) NextSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.seq
}

// Reserve waits until n more bytes fit in buffer.bytes, or ctx ends. A single request larger
// than the whole buffer is admitted when nothing else is pending, so it cannot wait forever.
// Every successful Reserve must be followed by Append of those bytes or Unreserve.
func (f *Flusher) Reserve(ctx context.Context, n int64) error {
	for {
		f.mu.Lock()
		if f.failed != nil {
			err := f.failed
			f.mu.Unlock()
			return err
		}
		if f.closing {
			f.mu.Unlock()
			return ErrClosed
		}
		if f.pending+n <= f.cfg.BufferBytes || f.pending == 0 {
			f.pending += n
			pendingBytes.Set(float64(f.pending))
			f.mu.Unlock()
			return nil
		}
		space := f.space
		f.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return fmt.Errorf("cannot reserve %d bytes of buffer.bytes %d: %w", n, f.cfg.BufferBytes, ctx.Err())
		}
	}
}

// Unreserve returns bytes reserved but not appended.
func (f *Flusher) Unreserve(n int64) {
	f.mu.Lock()
	f.release(n)
	f.mu.Unlock()
}

// release must be called with f.mu held.
func (f *Flusher) release(n int64) {
	f.pending -= n
	if f.pending < 0 {
		f.log.Error("BUG: flush buffer accounting went negative", "pending", f.pending)
		f.pending = 0
	}
	pendingBytes.Set(float64(f.pending))
	close(f.space)
	f.space = make(chan struct{})
}

// PendingBytes reports bytes appended and not yet committed.
func (f *Flusher) PendingBytes() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

// Append adds a batch, whose bytes were reserved, to the open flush and returns it. The caller
// holds its partition lock so that batches of one partition enter flushes in offset order.
func (f *Flusher) Append(s Sink, id PartitionID, b Batch) *Flush {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		fl := &Flush{done: make(chan struct{}), err: ErrClosed}
		close(fl.done)
		return fl
	}
	fl := f.cur
	i, ok := fl.index[s]
	if !ok {
		i = len(fl.groups)
		fl.index[s] = i
		fl.groups = append(fl.groups, &group{sink: s, id: id})
	}
	g := fl.groups[i]
	if g.id != id {
		// The partition changed epoch inside one flush; keep extents single-epoch.
		f.log.Error("BUG: partition epoch changed within one flush", "topic_id", fmt.Sprintf("%x", id.TopicID), "partition", id.Partition)
	}
	g.batches = append(g.batches, b)
	first := fl.bytes == 0
	if first {
		fl.opened = time.Now()
	}
	fl.bytes += int64(len(b.Data))
	full := fl.bytes >= f.cfg.FlushBytes
	f.mu.Unlock()
	if first || full {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
	return fl
}

// Flush cuts the open flush now (if it holds anything) and returns the last flush cut, to
// wait on; nil when nothing was ever appended.
func (f *Flusher) Flush() *Flush {
	f.mu.Lock()
	fl := f.cur
	if fl.bytes == 0 {
		fl = f.lastDone
	} else {
		fl.forced = true
	}
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
	return fl
}

// run is the cutter goroutine: it cuts due flushes, uploads them and queues them for commit.
func (f *Flusher) run() {
	defer f.wg.Done()
	defer close(f.commitQ)
	f.lastCut = time.Now()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		f.mu.Lock()
		fl := f.cur
		var wait time.Duration = -1
		if fl.bytes > 0 {
			now := time.Now()
			due := f.lastCut.Add(f.cfg.FlushInterval)
			if f.closing || fl.forced || fl.bytes >= f.cfg.FlushBytes || !now.Before(due) {
				f.lastCut = now
				f.cur = f.newFlush()
				f.lastDone = fl
				wait = 0
			} else {
				wait = due.Sub(now)
			}
		}
		closing := f.closing
		f.mu.Unlock()

		if wait == 0 {
			f.uploads <- struct{}{}
			go func() {
				defer func() { <-f.uploads }()
				fl.uploadOK = f.upload(fl)
				close(fl.uploadDone)
			}()
			f.commitQ <- fl
			continue
		}
		if closing && wait < 0 {
			f.mu.Lock()
			stop := f.cur.bytes == 0
			f.stopped = stop
			f.mu.Unlock()
			if stop {
				return
			}
			continue
		}
		var timerC <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			timerC = timer.C
		}
		select {
		case <-f.kick:
		case <-timerC:
		case <-f.stopCtx.Done():
		}
		timer.Stop()
	}
}

// upload builds the object and PUTs it, retrying with backoff while holding the data. It
// returns false only if the flusher is stopped hard first.
func (f *Flusher) upload(fl *Flush) bool {
	var b segment.Builder
	partitions := 0
	for _, g := range fl.groups {
		var delta []producer.Record
		for _, bt := range g.batches {
			b.Add(g.id.TopicID, g.id.Partition, g.id.LeaderEpoch, bt.Data, bt.BaseOffset, bt.LastOffset, bt.MaxTimestamp)
			fl.records += bt.LastOffset - bt.BaseOffset + 1
			if bt.Idempotent {
				delta = append(delta, producer.Record{ProducerID: bt.ProducerID, Epoch: bt.ProducerEpoch,
					Batch:     producer.Batch{FirstSeq: bt.FirstSeq, LastSeq: bt.LastSeq, BaseOffset: bt.BaseOffset, LastOffset: bt.LastOffset},
					Timestamp: bt.MaxTimestamp})
			}
		}
		if len(delta) > 0 {
			b.SetProducerState(g.id.TopicID, g.id.Partition, g.id.LeaderEpoch, producer.AppendRecords(nil, delta))
		}
		partitions++
	}
	fl.parts, fl.size, fl.footer = b.Finish()
	flushPartitions.Update(float64(partitions))
	fl.key = f.keyFn()
	// A timed-out attempt may land at any time after it started: the commit deadline counts
	// from the first attempt's start, not from the success.
	fl.uploaded = time.Now()
	err := f.retry("upload", fl, func(ctx context.Context) error {
		return f.put(ctx, fl)
	})
	if err == nil {
		uploadDuration.UpdateDuration(fl.uploaded)
	}
	return err == nil
}

// commitLoop is the committer goroutine: it commits the cut flushes strictly in cut order.
// When several are uploaded and waiting, and the Committer can (GroupCommitter), it
// commits them in one group (an etcd transaction and fsync for all, where one by one each
// waits for the previous: under many producers with one request in flight each, that round
// trip, not the upload, is what bounds acknowledgements per second); a group that does
// not commit whole is committed one by one, which tells fences, earlier commits and
// transient errors apart.
func (f *Flusher) commitLoop() {
	defer f.wg.Done()
	gc, _ := f.committer.(GroupCommitter)
	var held *Flush // received from commitQ, not yet committed
	for {
		fl := held
		held = nil
		if fl == nil {
			var ok bool
			if fl, ok = <-f.commitQ; !ok {
				return
			}
		}
		<-fl.uploadDone
		group := []*Flush{fl}
		if gc != nil && fl.uploadOK {
			group, held = f.gather(group, gc.MaxCommitGroup())
		}
		if len(group) > 1 && f.commitGroup(gc, group) {
			continue
		}
		for _, g := range group {
			f.commitOne(g)
		}
	}
}

// gather adds to group the flushes queued behind it whose uploads succeeded already, up to
// limit, without waiting; it returns the first flush it received but could not add (its
// upload unfinished or failed), which the caller commits next.
func (f *Flusher) gather(group []*Flush, limit int) ([]*Flush, *Flush) {
	for len(group) < limit {
		select {
		case next, ok := <-f.commitQ:
			if !ok {
				return group, nil
			}
			select {
			case <-next.uploadDone:
				if next.uploadOK {
					group = append(group, next)
					continue
				}
			default:
			}
			return group, next
		default:
			return group, nil
		}
	}
	return group, nil
}

// objectOf describes fl's uploaded object for the Committer, with the partitions voided by
// earlier commits.
func (f *Flusher) objectOf(fl *Flush) Object {
	obj := Object{Key: fl.key, Size: fl.size, FooterPos: fl.footer.FooterPos, FooterLen: fl.footer.FooterLen}
	for _, g := range fl.groups {
		obj.Partitions = append(obj.Partitions, g.id)
		if _, ok := f.voided[g.id]; ok {
			obj.Void = append(obj.Void, g.id)
		}
	}
	return obj
}

// commitGroup makes one attempt to commit group (in cut order, uploads done) at once and
// completes each flush if it succeeded. It makes none when any flush is near its
// MaxCommitDelay (the one-by-one path uploads those again first), and bounds the attempt
// by the earliest deadline.
func (f *Flusher) commitGroup(gc GroupCommitter, group []*Flush) bool {
	start := time.Now()
	ctx, cancel := context.WithTimeout(f.stopCtx, f.cfg.AttemptTimeout)
	defer cancel()
	seqs := make([]uint64, len(group))
	objs := make([]Object, len(group))
	for i, fl := range group {
		if f.cfg.MaxCommitDelay > 0 {
			deadline := fl.uploaded.Add(f.cfg.MaxCommitDelay)
			if time.Until(deadline) < f.cfg.MaxCommitDelay/2 {
				return false
			}
			var c context.CancelFunc
			ctx, c = context.WithDeadline(ctx, deadline)
			defer c()
		}
		seqs[i], objs[i] = fl.seq, f.objectOf(fl)
	}
	res, err := gc.CommitGroup(ctx, seqs, objs)
	if err != nil || len(res) != len(group) {
		groupCommitFallbacks.Inc()
		if err != nil && f.stopCtx.Err() == nil {
			f.log.Debug("group commit failed; committing one by one", "objects", len(group), "err", err)
		}
		return false
	}
	took := float64(time.Since(start).Milliseconds())
	groupCommits.Inc()
	for i, fl := range group {
		commitDurationMs.Update(took)
		f.complete(fl, res[i])
	}
	return true
}

// commitOne commits fl alone, retrying with backoff (uploading it again past
// MaxCommitDelay), and completes it or fails it.
func (f *Flusher) commitOne(fl *Flush) {
	if !fl.uploadOK {
		f.fail(fl, ErrClosed)
		return
	}
	start := time.Now()
	obj := f.objectOf(fl)
	var res Committed
	err := f.retry("commit", fl, func(ctx context.Context) error {
		if f.cfg.MaxCommitDelay > 0 {
			if time.Since(fl.uploaded) >= f.cfg.MaxCommitDelay {
				// Too late to commit this upload safely: GC may delete it. Upload anew.
				key := f.keyFn()
				uploaded := time.Now()
				if err := f.store.Put(ctx, key, fl.parts, fl.size); err != nil && !errors.Is(err, objstore.ErrExists) {
					return fmt.Errorf("cannot upload flush object again as %s: %w", key, err)
				}
				fl.key, obj.Key, fl.uploaded = key, key, uploaded
			}
			// No attempt may still be running (and land) after the deadline.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, fl.uploaded.Add(f.cfg.MaxCommitDelay))
			defer cancel()
		}
		var err error
		res, err = f.committer.Commit(ctx, fl.seq, obj)
		if err != nil {
			commitErrors.Inc()
		}
		if errors.Is(err, ErrFenced) {
			return permanent{err}
		}
		return err
	})
	commitDurationMs.Update(float64(time.Since(start).Milliseconds()))
	if err != nil {
		f.mu.Lock()
		if f.failed == nil {
			f.failed = err
		}
		f.mu.Unlock()
		f.fail(fl, err)
		return
	}
	f.complete(fl, res)
}

// complete tells fl's partitions that their batches are committed (or voided, as res
// says) and finishes it.
func (f *Flusher) complete(fl *Flush, res Committed) {
	// The committed entry may name an earlier upload of the same bytes.
	fl.key = res.Key
	flushObjects.Inc()
	flushBytes.Add(int(fl.size))
	flushObjectBytes.Update(float64(fl.size))
	flushObjectRecords.Update(float64(fl.records))
	flushLatencyMs.Update(float64(time.Since(fl.opened).Milliseconds()))
	var newlyVoided []PartitionID
	for _, id := range res.Voided {
		if _, ok := f.voided[id]; !ok {
			newlyVoided = append(newlyVoided, id)
			f.voided[id] = fl.seq
		}
	}
	for i, g := range fl.groups {
		if _, ok := f.voided[g.id]; ok {
			if fl.failed == nil {
				fl.failed = make(map[Sink]error)
			}
			fl.failed[g.sink] = ErrVoided
			g.sink.Failed(g.batches, ErrVoided)
			continue
		}
		g.sink.Committed(fl.key, fl.seq, fl.footer.Extents[i], g.batches)
	}
	if len(newlyVoided) > 0 {
		// Their Logs resigned in Failed above: no batch of theirs enters a flush cut
		// from now on, so the open flush is the last that can hold one.
		last := f.NextSeq()
		for _, id := range newlyVoided {
			f.voided[id] = last
		}
	}
	for id, last := range f.voided {
		if last <= fl.seq {
			delete(f.voided, id)
		}
	}
	f.finish(fl, nil)
}

func (f *Flusher) fail(fl *Flush, err error) {
	for _, g := range fl.groups {
		g.sink.Failed(g.batches, err)
	}
	f.finish(fl, err)
}

func (f *Flusher) finish(fl *Flush, err error) {
	fl.err = err
	fl.parts = nil
	if fl.seq+1 > f.floor.Load() {
		f.floor.Store(fl.seq + 1)
	}
	f.mu.Lock()
	f.release(fl.bytes)
	close(f.tick)
	f.tick = make(chan struct{})
	f.mu.Unlock()
	close(fl.done)
}

// Finished returns a channel closed when the next flush is committed or fails: parked
// fetches wait on it instead of on every partition they read.
func (f *Flusher) Finished() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tick
}

// permanent marks an error that retry must not retry.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// retry runs op until it succeeds, fails permanently, or the flusher is stopped hard.
func (f *Flusher) retry(what string, fl *Flush, op func(ctx context.Context) error) error {
	backoff := f.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(f.stopCtx, f.cfg.AttemptTimeout)
		err := op(ctx)
		cancel()
		if err == nil {
			f.health.Store("")
			return nil
		}
		f.health.Store(fmt.Sprintf("cannot %s flush object (attempt %d): %v", what, attempt, err))
		var p permanent
		if errors.As(err, &p) {
			f.log.Error("cannot "+what+" flush object", "key", fl.key, "seq", fl.seq, "err", p.error)
			return p.error
		}
		f.log.Warn("cannot "+what+" flush object; retrying", "key", fl.key, "seq", fl.seq, "attempt", attempt, "backoff", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-f.stopCtx.Done():
			return fmt.Errorf("cannot %s flush object %s: %w", what, fl.key, ErrClosed)
		}
		backoff = min(backoff*2, f.cfg.RetryMax)
	}
}

// CommitFloor returns the lowest commit sequence not yet committed or failed; every
// sequence below it is done. NextSeq is never below it.
func (f *Flusher) CommitFloor() uint64 { return f.floor.Load() }

// Health returns why the latest upload or commit attempt failed, or "" when it succeeded
// (or none was made yet): /readyz reports it while the object store or etcd is down.
func (f *Flusher) Health() string {
	v, _ := f.health.Load().(string)
	return v
}

// Close flushes everything pending and stops. If pending data cannot be committed before ctx
// ends, the remaining waiters fail with ErrClosed (their produces were never acknowledged).
func (f *Flusher) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		f.stop()
		<-done
		return fmt.Errorf("cannot flush pending data before shutdown: %w", ctx.Err())
	}
}
