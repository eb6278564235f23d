// Package partition holds the leader's in-memory view of one partition: offset assignment,
// the durable high watermark, the committed in-memory tail, and the index of committed
// extents in flush objects. It is rebuilt at takeover and never written per flush.
//
// Lock order: Log.mu -> flush.Flusher.mu (Append calls the flusher under Log.mu);
// Log.mu -> TailBudget.mu (see TailBudget).
package partition

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/producer"
	"github.com/kafscale/kafscale/segment"
)

// Config holds per-partition settings.
type Config struct {
	// TailBytes bounds the committed batches kept in memory to serve recent fetches.
	TailBytes int64
	// Tails, shared by all the Logs of a broker, bounds their tails together
	// (--tail-total-bytes); nil bounds each by TailBytes alone.
	Tails *TailBudget
	// ProducerExpiration drops an idempotent producer's state once its last batch is this
	// old (producer.id.expiration.ms).
	ProducerExpiration time.Duration
	// ReadAheadBytes is how many bytes of the following extents a read from objects loads
	// into the range cache in the background (bounded by the cache's prefetch concurrency);
	// 0 loads none.
	ReadAheadBytes int64
}

// DefaultConfig returns the defaults (Kafka's for producer expiration: one day).
func DefaultConfig() Config {
	return Config{TailBytes: 1 << 20, ProducerExpiration: 24 * time.Hour, ReadAheadBytes: DefaultReadAheadBytes}
}

// DefaultReadAheadBytes is how far past a read from objects the next ranges are loaded
// ahead: four 1 MiB chunks keep a consumer catching up from S3 Standard (tens of
// milliseconds per GET) reading at well over 150 MiB/s.
const DefaultReadAheadBytes = 4 << 20

// Errors a Log returns; the broker maps them to Kafka codes.
var (
	ErrNotLeader      = errors.New("not the leader of this partition")
	ErrOffsetRange    = errors.New("offset out of range")
	ErrFencedEpoch    = errors.New("leader epoch is older than the current one")
	ErrUnknownEpoch   = errors.New("leader epoch is newer than the current one")
	ErrEmptyBatch     = errors.New("record batch holds no records")
	ErrRecordCountBad = errors.New("record batch count does not match its offset delta")
	// ErrInvalidProducerEpoch and ErrOutOfOrderSequence are the idempotence checks' errors.
	ErrInvalidProducerEpoch = producer.ErrInvalidEpoch
	ErrOutOfOrderSequence   = producer.ErrOutOfOrder
)

// Extent is a committed range of one partition inside an object: a flush object (found
// through a checkpoint chain, at Seq of Broker's Incarnation) or a merged segment.
type Extent struct {
	Key string
	segment.Extent
	Segment     bool
	Broker      int32
	Incarnation uint64
	Seq         uint64
}

// State is what takeover hands a new Log.
type State struct {
	TopicID     [16]byte
	Topic       string
	Partition   int32
	LeaderEpoch int32
	LogStart    int64
	Extents     []Extent // ascending; contiguous but for gaps inside compacted segments
	// Broker and Incarnation name this leadership's own chain: extents committed from now
	// on belong to it.
	Broker      int32
	Incarnation uint64
	// Producers is the idempotent producers' state through the last extent.
	Producers producer.State
	// Epochs is the leader-epoch history from the checkpoint, oldest first; New drops what
	// lies below LogStart and adds LeaderEpoch at the log end.
	Epochs []EpochStart
}

var (
	tailHits   = metrics.NewCounter(`kafscale_fetch_tail_reads_total`)
	objectHits = metrics.NewCounter(`kafscale_fetch_object_reads_total`)
)

// Log is the leader's state of one partition. Safe for concurrent use.
type Log struct {
	topicID   [16]byte
	topic     string
	partition int32
	broker    int32
	inc       uint64
	cfg       Config
	flusher   *flush.Flusher
	cache     *segment.Cache

	mu        sync.Mutex // guards the fields below
	epoch     int32
	leader    bool
	logStart  int64
	next      int64 // next offset to assign
	hw        int64 // high watermark: every offset below it is committed
	tail      []flush.Batch
	tailBytes int64
	lruElem   *list.Element // this Log in cfg.Tails's order; guarded by cfg.Tails.mu
	extents   []Extent
	waiters   map[Waiter]struct{}      // parked fetches to wake when hw moves or leadership ends
	maxTs     int64                    // largest batch max timestamp committed
	maxTsBase int64                    // base offset of the batch holding maxTs
	dirty     bool                     // changed since the last checkpoint
	producers producer.State           // committed idempotent-producer state, through hw-1
	pending   map[int64][]pendingBatch // appended, not yet committed, per producer id, in order
	epochs    epochHistory             // leader-epoch history; the last entry is epoch's
	bytesIn   atomic.Int64             // bytes of the batches appended (duplicates not)
	opened    time.Time                // when New made it, for the rate of bytesIn
}

// pendingBatch is an appended idempotent batch waiting for its flush to commit.
type pendingBatch struct {
	epoch int16
	producer.Batch
	flush *flush.Flush
}

// New returns the Log of a partition taken over with st.
func New(cfg Config, st State, fl *flush.Flusher, cache *segment.Cache) *Log {
	l := &Log{
		topicID: st.TopicID, topic: st.Topic, partition: st.Partition, cfg: cfg,
		broker: st.Broker, inc: st.Incarnation,
		flusher: fl, cache: cache,
		epoch: st.LeaderEpoch, leader: true, logStart: st.LogStart,
		extents: st.Extents, maxTs: -1, maxTsBase: -1,
		producers: st.Producers, pending: make(map[int64][]pendingBatch), opened: time.Now(),
	}
	if l.producers == nil {
		l.producers = producer.State{}
	}
	l.next = st.LogStart
	for _, e := range st.Extents {
		if e.LastOffset+1 > l.next {
			l.next = e.LastOffset + 1
		}
		if e.MaxTimestamp > l.maxTs {
			l.maxTs, l.maxTsBase = e.MaxTimestamp, e.BaseOffset
		}
	}
	l.hw = l.next
	// As Kafka loads a log's epoch cache and then makes it leader: the stored entries,
	// those below the log start dropped, then this leadership's epoch at the log end.
	for _, e := range st.Epochs {
		l.epochs = l.epochs.assign(e)
	}
	l.epochs = l.epochs.truncateStart(l.logStart)
	l.epochs = l.epochs.assign(EpochStart{Epoch: l.epoch, StartOffset: l.next})
	return l
}

// Topic returns the topic name.
func (l *Log) Topic() string { return l.topic }

// TopicID returns the topic id.
func (l *Log) TopicID() [16]byte { return l.topicID }

// Partition returns the partition number.
func (l *Log) Partition() int32 { return l.partition }

// Offsets reports the log start offset, high watermark and leader epoch.
func (l *Log) Offsets() (logStart, hw int64, epoch int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logStart, l.hw, l.epoch
}

// CheckEpoch validates a client's CurrentLeaderEpoch (KIP-320); -1 means unset.
func (l *Log) CheckEpoch(epoch int32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkEpochLocked(epoch)
}

// checkEpochLocked must be called with l.mu held.
func (l *Log) checkEpochLocked(epoch int32) error {
	switch {
	case !l.leader:
		return ErrNotLeader
	case epoch < 0 || epoch == l.epoch:
		return nil
	case epoch < l.epoch:
		return ErrFencedEpoch
	default:
		return ErrUnknownEpoch
	}
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-320) after checking current (the
// client's CurrentLeaderEpoch, -1 for unset) as CheckEpoch does: the largest epoch <= epoch
// in the partition's history and the offset where it ended (endOffsetFor). The log ends at
// the high watermark: an offset is in the log once committed, and batches appended but
// not committed may be voided and their offsets handed out again at the next epoch, whose
// entry starts at the high watermark of its takeover; so the end given for an epoch never
// shrinks later.
func (l *Log) EndOffsetForEpoch(current, epoch int32) (int32, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkEpochLocked(current); err != nil {
		return UndefinedEpoch, UndefinedEpochOffset, err
	}
	e, end := l.epochs.endOffsetFor(epoch, l.hw)
	return e, end, nil
}

// DeleteBefore moves the log start to offset (DeleteRecords; HighWatermark -1 means the
// high watermark), as Kafka's deleteRecords does: an offset below the log start changes
// nothing, one above the high watermark (or below -1) is ErrOffsetRange. The log start may
// fall inside a batch: reads from it return that whole batch, and the client skips the
// records before it. It returns the log start after the call. The move is durable once
// the next checkpoint is written (the caller writes it before answering); the objects
// below it are deleted by merging and GC (docs/object-lifecycle.md, "Deleting records").
func (l *Log) DeleteBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leader {
		return 0, ErrNotLeader
	}
	if offset == HighWatermark {
		offset = l.hw
	}
	if offset < 0 || offset > l.hw {
		return l.logStart, ErrOffsetRange
	}
	if offset > l.logStart {
		l.logStart = offset
		l.epochs = l.epochs.truncateStart(offset)
		l.dirty = true
	}
	return l.logStart, nil
}

// MarkDirty makes the next checkpoint include this partition (after a failed write of one
// that took its dirty mark).
func (l *Log) MarkDirty() {
	l.mu.Lock()
	l.dirty = true
	l.mu.Unlock()
}

// DropSegmentsBelow removes from the index the leading segment extents that end below
// offset (their segments were deleted: retention, DeleteRecords). Only the merging
// goroutine calls it, as it does ReplaceMerged: the index's segment prefix is its own.
func (l *Log) DropSegmentsBelow(offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.extents) && l.extents[i].Segment && l.extents[i].LastOffset < offset {
		i++
	}
	if i > 0 {
		l.extents = append([]Extent(nil), l.extents[i:]...)
	}
}

// SegmentBelow reports whether the index starts with a segment extent ending below offset:
// merging turned flush extents below the log start into a segment that can go.
func (l *Log) SegmentBelow(offset int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.extents) > 0 && l.extents[0].Segment && l.extents[0].LastOffset < offset
}

// HighWatermark is DeleteRecords' offset -1: delete up to the high watermark.
const HighWatermark = -1

// BytesIn returns the bytes of every batch appended to this log since it was opened
// (duplicates of an idempotent producer not counted), the load the controller balances,
// and when it was opened.
func (l *Log) BytesIn() (int64, time.Time) { return l.bytesIn.Load(), l.opened }

// Epochs returns a copy of the leader-epoch history, oldest first, for the checkpoint.
func (l *Log) Epochs() []EpochStart {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]EpochStart(nil), l.epochs...)
}

// AppendResult is what Append did with a batch.
type AppendResult struct {
	// BaseOffset is the batch's first offset (the original one for a duplicate).
	BaseOffset int64
	// Flush is the flush to wait on before answering; nil when the batch is a duplicate of
	// an already committed one.
	Flush *flush.Flush
	// Duplicate reports a retried batch of an idempotent producer that was not stored again.
	Duplicate bool
}

// Append checks an idempotent batch against its producer's state, then assigns offsets to
// the validated batch (patching it in place), hands it to the flusher and returns its base
// offset and the flush to wait on. The batch's bytes must have been reserved with the
// flusher; a duplicate uses none of them.
func (l *Log) Append(batch []byte, h codec.BatchHeader) (AppendResult, error) {
	if h.NumRecords <= 0 {
		return AppendResult{}, ErrEmptyBatch
	}
	if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return AppendResult{}, ErrRecordCountBad
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leader {
		return AppendResult{}, ErrNotLeader
	}
	idem := h.ProducerID >= 0
	var lastSeq int32
	if idem {
		lastSeq = producer.LastSeqOf(h.BaseSequence, h.LastOffsetDelta)
		view, pend := l.producerViewLocked(h.ProducerID)
		dup, err := producer.Check(view, h.ProducerEpoch, h.BaseSequence, lastSeq)
		if err != nil {
			return AppendResult{}, err
		}
		if dup >= 0 {
			// A retry: answer with the original's offsets once the original is durable.
			b := view.Batches[dup]
			for _, pb := range pend {
				if pb.FirstSeq == b.FirstSeq && pb.LastSeq == b.LastSeq {
					return AppendResult{BaseOffset: b.BaseOffset, Flush: pb.flush, Duplicate: true}, nil
				}
			}
			return AppendResult{BaseOffset: b.BaseOffset, Duplicate: true}, nil
		}
	}
	base := l.next
	codec.SetBaseOffset(batch, base)
	codec.SetPartitionLeaderEpoch(batch, l.epoch)
	l.next = base + int64(h.LastOffsetDelta) + 1
	b := flush.Batch{Data: batch, BaseOffset: base, LastOffset: l.next - 1, MaxTimestamp: h.MaxTimestamp}
	if idem {
		b.Idempotent, b.ProducerID, b.ProducerEpoch, b.FirstSeq, b.LastSeq = true, h.ProducerID, h.ProducerEpoch, h.BaseSequence, lastSeq
	}
	fl := l.flusher.Append(l, flush.PartitionID{TopicID: l.topicID, Partition: l.partition, LeaderEpoch: l.epoch}, b)
	l.bytesIn.Add(int64(len(batch)))
	if idem {
		l.pending[h.ProducerID] = append(l.pending[h.ProducerID], pendingBatch{epoch: h.ProducerEpoch,
			Batch: producer.Batch{FirstSeq: h.BaseSequence, LastSeq: lastSeq, BaseOffset: base, LastOffset: l.next - 1}, flush: fl})
	}
	return AppendResult{BaseOffset: base, Flush: fl}, nil
}

// producerViewLocked returns a producer's current view (epoch and last batches, pending
// ones included) and its pending batches of that epoch; nil without any state. Must be
// called with l.mu held.
func (l *Log) producerViewLocked(pid int64) (*producer.Entry, []pendingBatch) {
	c := l.producers[pid]
	pend := l.pending[pid]
	if c == nil && len(pend) == 0 {
		return nil, nil
	}
	v := &producer.Entry{ProducerID: pid}
	if c != nil {
		v.Epoch = c.Epoch
	}
	if len(pend) > 0 {
		v.Epoch = max(v.Epoch, pend[len(pend)-1].epoch)
	}
	if c != nil && c.Epoch == v.Epoch {
		v.Batches = append(v.Batches, c.Batches...)
	}
	var own []pendingBatch
	for _, pb := range pend {
		if pb.epoch == v.Epoch {
			v.Batches = append(v.Batches, pb.Batch)
			own = append(own, pb)
		}
	}
	if len(v.Batches) > producer.MaxBatches {
		v.Batches = v.Batches[len(v.Batches)-producer.MaxBatches:]
	}
	return v, own
}

// Committed implements flush.Sink: the batches are durable, so the high watermark moves.
func (l *Log) Committed(key string, seq uint64, ext segment.Extent, batches []flush.Batch) {
	l.commit(key, seq, ext, batches)
	if l.cfg.Tails != nil {
		// After releasing l.mu: shedding may lock another Log (TailBudget's lock order).
		l.cfg.Tails.shed()
	}
}

func (l *Log) commit(key string, seq uint64, ext segment.Extent, batches []flush.Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ext.BaseOffset != l.hw {
		// Commits are sequential and batches enter flushes in offset order.
		panic(fmt.Sprintf("BUG: partition %s-%d committed extent at %d, high watermark %d", l.topic, l.partition, ext.BaseOffset, l.hw))
	}
	l.hw = ext.LastOffset + 1
	l.extents = append(l.extents, Extent{Key: key, Extent: ext, Broker: l.broker, Incarnation: l.inc, Seq: seq})
	for _, b := range batches {
		l.tail = append(l.tail, b)
		l.addTailBytesLocked(int64(len(b.Data)))
		if b.MaxTimestamp > l.maxTs {
			l.maxTs, l.maxTsBase = b.MaxTimestamp, b.BaseOffset
		}
		if b.Idempotent {
			l.producers.Apply(producer.Record{ProducerID: b.ProducerID, Epoch: b.ProducerEpoch,
				Batch:     producer.Batch{FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, BaseOffset: b.BaseOffset, LastOffset: b.LastOffset},
				Timestamp: b.MaxTimestamp})
			if p := l.pending[b.ProducerID]; len(p) > 0 && p[0].BaseOffset == b.BaseOffset {
				if len(p) == 1 {
					delete(l.pending, b.ProducerID)
				} else {
					l.pending[b.ProducerID] = p[1:]
				}
			}
		}
	}
	drop, kept := 0, l.tailBytes
	for kept > l.cfg.TailBytes && drop < len(l.tail)-1 {
		kept -= int64(len(l.tail[drop].Data))
		drop++
	}
	if !l.leader {
		// A resigned Log is about to be dropped: the tail it kept would count against the
		// broker's budget after it is gone.
		drop = len(l.tail)
	}
	l.dropTailLocked(drop)
	if len(l.tail) > 0 && l.cfg.Tails != nil {
		l.cfg.Tails.touch(l)
	}
	l.dirty = true
	l.wakeLocked()
}

// Failed implements flush.Sink: batches that will never commit end this leadership, since
// offsets past them were already handed out. A new takeover rebuilds the state from etcd.
func (l *Log) Failed(batches []flush.Batch, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leader {
		l.leader = false
		l.wakeLocked()
	}
	clear(l.pending)
	// Leadership ends for good (a new one builds a new Log): the tail is given back to the
	// broker's budget, and reads go to the objects.
	l.dropTailLocked(len(l.tail))
}

// addTailBytesLocked counts n bytes appended to the tail.
func (l *Log) addTailBytesLocked(n int64) {
	l.tailBytes += n
	tailBytesAll.Add(n)
	if l.cfg.Tails != nil {
		l.cfg.Tails.total.Add(n)
	}
}

// dropTailLocked drops the oldest n batches of the tail, and the Log from its budget's
// order once the tail is empty.
func (l *Log) dropTailLocked(n int) {
	var bytes int64
	for i := range n {
		bytes += int64(len(l.tail[i].Data))
		l.tail[i] = flush.Batch{}
	}
	l.tail = l.tail[n:]
	l.addTailBytesLocked(-bytes)
	if len(l.tail) == 0 && l.cfg.Tails != nil {
		l.cfg.Tails.forget(l)
	}
}

// shedTail drops the oldest tail batches while b's total is over its budget, or the whole
// tail. Called with no Log's lock held (TailBudget.shed).
func (l *Log) shedTail(b *TailBudget) {
	l.mu.Lock()
	defer l.mu.Unlock()
	drop, over := 0, b.total.Load()-b.limit
	for drop < len(l.tail) && over > 0 {
		over -= int64(len(l.tail[drop].Data))
		drop++
	}
	l.dropTailLocked(drop) // forgets l too if its tail is empty, however it came to be
}

// Resign ends this leadership: appends fail with ErrNotLeader, waiting fetches wake.
func (l *Log) Resign() {
	l.Failed(nil, nil)
}

// Leader reports whether this Log still accepts appends.
func (l *Log) Leader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader
}

// Waiter wakes a parked fetch: a Log signals it, without blocking, when the high watermark
// of a partition it waits on moves or the partition's leadership ends, so a commit wakes
// only the fetches reading that partition. A signal stays until received (capacity 1): one
// raised between a fetch's read and its wait is not lost.
type Waiter chan struct{}

// NewWaiter returns a Waiter for one parked fetch.
func NewWaiter() Waiter { return make(Waiter, 1) }

func (w Waiter) signal() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// Wait registers w until Unwait. w is signalled when the high watermark moves or leadership
// ends, and at once if the high watermark is no longer seenHW (what the fetch read) or the
// leadership ended already.
func (l *Log) Wait(w Waiter, seenHW int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiters == nil {
		l.waiters = make(map[Waiter]struct{})
	}
	l.waiters[w] = struct{}{}
	if !l.leader || l.hw != seenHW {
		w.signal()
	}
}

// Unwait removes w registered by Wait.
func (l *Log) Unwait(w Waiter) {
	l.mu.Lock()
	delete(l.waiters, w)
	l.mu.Unlock()
}

// wakeLocked signals every waiter; l.mu must be held.
func (l *Log) wakeLocked() {
	for w := range l.waiters {
		w.signal()
	}
}

// Read returns whole batches starting with the one holding offset, up to maxBytes (at least
// one batch when any exists below the high watermark). Record bytes are shared, not copied:
// callers must not modify them.
func (l *Log) Read(ctx context.Context, offset int64, maxBytes int64) ([][]byte, error) {
	recs, _, _, err := l.ReadOffsets(ctx, offset, maxBytes)
	return recs, err
}

// ReadOffsets is Read that also returns the log start offset and high watermark as they
// were when the read was bounded: the batches returned end at or below that high watermark,
// so a fetch answering both is consistent (a later Offsets call may see a higher one).
func (l *Log) ReadOffsets(ctx context.Context, offset int64, maxBytes int64) (recs [][]byte, logStart, hw int64, err error) {
	l.mu.Lock()
	logStart, hw = l.logStart, l.hw
	if offset < l.logStart || offset > l.hw {
		l.mu.Unlock()
		return nil, logStart, hw, ErrOffsetRange
	}
	if offset == l.hw {
		l.mu.Unlock()
		return nil, logStart, hw, nil
	}
	if len(l.tail) > 0 && offset >= l.tail[0].BaseOffset {
		out := l.readTailLocked(offset, maxBytes)
		l.mu.Unlock()
		tailHits.Inc()
		return out, logStart, hw, nil
	}
	exts, ahead := l.objectRangesLocked(offset, maxBytes)
	l.mu.Unlock()

	objectHits.Inc()
	// The ranges after the first load while it is read, and the read-ahead behind them.
	for _, e := range exts[1:] {
		l.cache.Start(e.Key, e.Pos, e.Len)
	}
	for _, e := range ahead {
		l.cache.Prefetch(e.Key, e.Pos, e.Len)
	}
	var out [][]byte
	var total int64
	for _, e := range exts {
		data, err := l.cache.Get(ctx, e.Key, e.Pos, e.Len)
		if err != nil {
			return nil, logStart, hw, fmt.Errorf("cannot read %s-%d offsets %d-%d from object %s: %w", l.topic, l.partition, e.BaseOffset, e.LastOffset, e.Key, err)
		}
		for len(data) > 0 {
			batch, rest, err := codec.NextBatch(data)
			if err != nil {
				return nil, logStart, hw, fmt.Errorf("BUG: cannot walk batches of object %s at %d: %w", e.Key, e.Pos, err)
			}
			data = rest
			h, err := codec.ParseBatchHeader(batch)
			if err != nil {
				return nil, logStart, hw, fmt.Errorf("BUG: cannot parse batch of object %s: %w", e.Key, err)
			}
			if h.LastOffset() < offset {
				continue
			}
			if len(out) > 0 && total+int64(len(batch)) > maxBytes {
				return out, logStart, hw, nil
			}
			out = append(out, batch)
			total += int64(len(batch))
		}
	}
	return out, logStart, hw, nil
}

// objectRangesLocked returns the extents a read of maxBytes from offset needs (at least
// one), and those of the ReadAheadBytes after them; l.mu must be held.
func (l *Log) objectRangesLocked(offset, maxBytes int64) (exts, ahead []Extent) {
	i := sort.Search(len(l.extents), func(i int) bool { return l.extents[i].LastOffset >= offset })
	j := i
	var size int64
	for ; j < len(l.extents) && (size == 0 || size < maxBytes); j++ {
		size += l.extents[j].Len
	}
	k := j
	for size = 0; k < len(l.extents) && size < l.cfg.ReadAheadBytes; k++ {
		size += l.extents[k].Len
	}
	// Copies: the index may be replaced or appended to once l.mu is released.
	return slices.Clone(l.extents[i:j]), slices.Clone(l.extents[j:k])
}

// Warm starts loading, without waiting, the object ranges a Read of maxBytes from offset
// would read and its read-ahead, so that a fetch of many partitions waits for their object
// reads together rather than one after another. Reads served from memory start nothing.
func (l *Log) Warm(offset, maxBytes int64) {
	l.mu.Lock()
	if offset < l.logStart || offset >= l.hw || (len(l.tail) > 0 && offset >= l.tail[0].BaseOffset) {
		l.mu.Unlock()
		return
	}
	exts, ahead := l.objectRangesLocked(offset, maxBytes)
	l.mu.Unlock()
	for _, e := range exts {
		l.cache.Start(e.Key, e.Pos, e.Len)
	}
	for _, e := range ahead {
		l.cache.Prefetch(e.Key, e.Pos, e.Len)
	}
}

// readTailLocked must be called with l.mu held.
func (l *Log) readTailLocked(offset, maxBytes int64) [][]byte {
	i := sort.Search(len(l.tail), func(i int) bool { return l.tail[i].LastOffset >= offset })
	var out [][]byte
	var total int64
	for ; i < len(l.tail); i++ {
		b := l.tail[i].Data
		if len(out) > 0 && total+int64(len(b)) > maxBytes {
			break
		}
		out = append(out, b)
		total += int64(len(b))
	}
	return out
}

// TakeDirty reports whether the partition changed since the last call.
func (l *Log) TakeDirty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.dirty
	l.dirty = false
	return d
}

// Extents returns a copy of the partition's index.
func (l *Log) Extents() []Extent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Extent(nil), l.extents...)
}

// MergeCandidates returns the oldest run of flush extents (those after the last segment),
// up to about maxBytes: what the next segment would hold.
func (l *Log) MergeCandidates(maxBytes int64) []Extent {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.extents) && l.extents[i].Segment {
		i++
	}
	var out []Extent
	var size int64
	for ; i < len(l.extents) && size < maxBytes; i++ {
		out = append(out, l.extents[i])
		size += l.extents[i].Len
	}
	return out
}

// ReplaceMerged swaps the flush extents merged into a segment for the segment's chunk
// extents. merged must still be in the index, in order, right after the last segment.
func (l *Log) ReplaceMerged(merged, seg []Extent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.extents) && l.extents[i].Segment {
		i++
	}
	if len(merged) == 0 || i+len(merged) > len(l.extents) {
		return fmt.Errorf("BUG: %s-%d: merged extents are not in the index", l.topic, l.partition)
	}
	for j, m := range merged {
		e := l.extents[i+j]
		if e.Key != m.Key || e.BaseOffset != m.BaseOffset || e.LastOffset != m.LastOffset {
			return fmt.Errorf("BUG: %s-%d: index changed under a merge at offset %d", l.topic, l.partition, m.BaseOffset)
		}
	}
	if seg[0].BaseOffset != merged[0].BaseOffset || seg[len(seg)-1].LastOffset != merged[len(merged)-1].LastOffset {
		return fmt.Errorf("BUG: %s-%d: segment %d-%d does not cover merged %d-%d", l.topic, l.partition,
			seg[0].BaseOffset, seg[len(seg)-1].LastOffset, merged[0].BaseOffset, merged[len(merged)-1].LastOffset)
	}
	out := make([]Extent, 0, len(l.extents)-len(merged)+len(seg))
	out = append(out, l.extents[:i]...)
	out = append(out, seg...)
	out = append(out, l.extents[i+len(merged):]...)
	l.extents = out
	return nil
}

// ReplaceCompacted swaps the extents of the segments named by oldKeys for exts, the chunks
// of the segment log compaction wrote in their place (offsets ascending, within the replaced
// range, with gaps); chunks wholly below the log start are left out, as DropSegmentsBelow
// would. The in-memory tail forgets batches up to the replaced range's end, so that a fetch
// there reads what compaction kept, as one from the segment would. Only the merging
// goroutine calls it, as it does ReplaceMerged.
func (l *Log) ReplaceCompacted(oldKeys []string, exts []Extent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := make(map[string]bool, len(oldKeys))
	for _, k := range oldKeys {
		old[k] = true
	}
	out := make([]Extent, 0, len(l.extents)+len(exts))
	for _, e := range l.extents {
		if !old[e.Key] {
			out = append(out, e)
		}
	}
	var end int64 = -1
	for _, e := range exts {
		end = max(end, e.LastOffset)
		if e.LastOffset >= l.logStart {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].BaseOffset < out[j].BaseOffset })
	l.extents = out
	drop := 0
	for drop < len(l.tail) && l.tail[drop].LastOffset <= end {
		drop++
	}
	l.dropTailLocked(drop)
}

// ProducerSnapshot returns the committed producer state (expired producers dropped) encoded
// for a checkpoint, and the offset it is current to (the high watermark).
func (l *Log) ProducerSnapshot() ([]byte, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.producers.Expire(time.Now().UnixMilli(), l.cfg.ProducerExpiration.Milliseconds())
	if len(l.producers) == 0 {
		return nil, l.hw
	}
	return producer.AppendRecords(nil, l.producers.Records()), l.hw
}

// Producers returns a copy of the committed producer entries (DescribeProducers), expired
// ones dropped first: a partition that takes no writes is never checkpointed, so without
// this it would list producers past producer.id.expiration.ms forever.
func (l *Log) Producers() []producer.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.producers.Expire(time.Now().UnixMilli(), l.cfg.ProducerExpiration.Milliseconds())
	out := make([]producer.Entry, 0, len(l.producers))
	for _, e := range l.producers {
		c := *e
		c.Batches = append([]producer.Batch(nil), e.Batches...)
		out = append(out, c)
	}
	return out
}
