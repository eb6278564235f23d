package flush

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// waitBound is how long a test waits for something that should happen at once; generous
// so a loaded machine running -race does not flake.
const waitBound = 20 * time.Second

// testConfig cuts only on Flush, Close or FlushBytes, and retries fast.
func testConfig() Config {
	return Config{
		FlushBytes:     1 << 20,
		FlushInterval:  time.Hour,
		BufferBytes:    8 << 20,
		RetryMin:       time.Millisecond,
		RetryMax:       4 * time.Millisecond,
		AttemptTimeout: 5 * time.Second,
	}
}

// newTestFlusher starts a flusher that Cleanup closes.
func newTestFlusher(t testing.TB, cfg Config, st objstore.Store, c Committer) *Flusher {
	t.Helper()
	var n atomic.Uint64
	keyFn := func() string { return fmt.Sprintf("flush/1/1/%08d", n.Add(1)) }
	f := New(cfg, st, c, keyFn, slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		_ = f.Close(ctx)
	})
	return f
}

func newLocalStore(t testing.TB) *objstore.Local {
	t.Helper()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds or waitBound passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitDone waits for fl to finish and returns its error.
func waitDone(t testing.TB, fl *Flush) error {
	t.Helper()
	select {
	case <-fl.Done():
		return fl.Err()
	case <-time.After(waitBound):
		t.Fatalf("flush %d not done after %s", fl.seq, waitBound)
		return nil
	}
}

// cutNow cuts the open flush and waits until the cutter has taken it, so later appends go
// to a new flush.
func cutNow(t testing.TB, f *Flusher) *Flush {
	t.Helper()
	next := f.NextSeq()
	fl := f.Flush()
	waitFor(t, "the open flush to be cut", func() bool { return f.NextSeq() > next })
	return fl
}

// testBatch returns a batch of n bytes holding offsets [base, last]; its bytes name the
// partition and base offset so misplaced data shows in comparisons.
func testBatch(part byte, base, last int64, n int) Batch {
	data := make([]byte, n)
	for i := range data {
		data[i] = part ^ byte(base) ^ byte(i)
	}
	return Batch{Data: data, BaseOffset: base, LastOffset: last, MaxTimestamp: 1000 + base}
}

// appendReserved reserves b's bytes and appends it.
func appendReserved(t testing.TB, f *Flusher, s Sink, id PartitionID, b Batch) *Flush {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := f.Reserve(ctx, int64(len(b.Data))); err != nil {
		t.Fatalf("cannot reserve %d bytes: %v", len(b.Data), err)
	}
	return f.Append(s, id, b)
}

func partitionID(topic byte, p, epoch int32) PartitionID {
	var id PartitionID
	id.TopicID[0] = topic
	id.Partition = p
	id.LeaderEpoch = epoch
	return id
}

// sinkEvent is one call of a Sink.
type sinkEvent struct {
	sink      string
	committed bool
	key       string
	ext       segment.Extent
	batches   []Batch
	err       error
}

// eventLog records Sink calls of several sinks in call order.
type eventLog struct {
	mu     sync.Mutex
	events []sinkEvent
}

func (l *eventLog) add(e sinkEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []sinkEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// of returns the events of one sink.
func (l *eventLog) of(sink string) []sinkEvent {
	var out []sinkEvent
	for _, e := range l.snapshot() {
		if e.sink == sink {
			out = append(out, e)
		}
	}
	return out
}

// fakeSink records its calls in a shared eventLog.
type fakeSink struct {
	name string
	log  *eventLog
}

func (s *fakeSink) Committed(key string, _ uint64, ext segment.Extent, batches []Batch) {
	s.log.add(sinkEvent{sink: s.name, committed: true, key: key, ext: ext, batches: slices.Clone(batches)})
}

func (s *fakeSink) Failed(batches []Batch, err error) {
	s.log.add(sinkEvent{sink: s.name, batches: slices.Clone(batches), err: err})
}

// commitCall is one Commit attempt.
type commitCall struct {
	seq uint64
	obj Object
	ok  bool
}

// fakeCommitter records attempts. decide, when set, answers each attempt (attempt counts
// from 0 per seq); gate, when set, is received from before each attempt.
type fakeCommitter struct {
	decide  func(seq uint64, attempt int, obj Object) ([]PartitionID, error)
	gate    chan struct{}
	entered atomic.Int64 // Commit calls started, counted before the gate

	mu    sync.Mutex
	calls []commitCall
}

func (c *fakeCommitter) Commit(ctx context.Context, seq uint64, obj Object) (Committed, error) {
	c.entered.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return Committed{}, ctx.Err()
		}
	}
	c.mu.Lock()
	attempt := 0
	for _, cl := range c.calls {
		if cl.seq == seq {
			attempt++
		}
	}
	c.mu.Unlock()
	var voided []PartitionID
	var err error
	if c.decide != nil {
		voided, err = c.decide(seq, attempt, obj)
	}
	c.mu.Lock()
	c.calls = append(c.calls, commitCall{seq: seq, obj: obj, ok: err == nil})
	c.mu.Unlock()
	return Committed{Key: obj.Key, Voided: voided}, err
}

// attempts returns the seq of every attempt, in order.
func (c *fakeCommitter) attempts() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for _, cl := range c.calls {
		out = append(out, cl.seq)
	}
	return out
}

// committed returns the successful commits, in order.
func (c *fakeCommitter) committed() []commitCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []commitCall
	for _, cl := range c.calls {
		if cl.ok {
			out = append(out, cl)
		}
	}
	return out
}

var errInjected = errors.New("injected failure")

// faultyStore wraps a Store: its first failFirst Puts fail (all of them if failAll).
type faultyStore struct {
	objstore.Store
	failFirst int64
	failAll   bool
	puts      atomic.Int64
}

func (s *faultyStore) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	n := s.puts.Add(1)
	if s.failAll || n <= s.failFirst {
		return fmt.Errorf("cannot put object %s: %w", key, errInjected)
	}
	return s.Store.Put(ctx, key, parts, size)
}

// memStore is an in-memory Store. With discard set it keeps only sizes (for benchmarks).
type memStore struct {
	discard bool

	mu   sync.Mutex
	objs map[string][]byte
	size map[string]int64
}

func newMemStore(discard bool) *memStore {
	return &memStore{discard: discard, objs: make(map[string][]byte), size: make(map[string]int64)}
}

func (m *memStore) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var data []byte
	if !m.discard {
		data = make([]byte, 0, size)
		for _, p := range parts {
			data = append(data, p...)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.size[key]; ok {
		return objstore.ErrExists
	}
	m.objs[key] = data
	m.size[key] = size
	return nil
}

func (m *memStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.objs[key]
	if !ok || m.discard {
		return nil, objstore.ErrNotFound
	}
	if off+n > int64(len(d)) {
		return nil, objstore.ErrOutOfRange
	}
	return slices.Clone(d[off : off+n]), nil
}

func (m *memStore) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.objs[key]
	if !ok || m.discard {
		return nil, 0, objstore.ErrNotFound
	}
	off := max(int64(len(d))-n, 0)
	return slices.Clone(d[off:]), int64(len(d)), nil
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	delete(m.size, key)
	return nil
}

func (m *memStore) DeleteMany(ctx context.Context, keys []string) error {
	for _, k := range keys {
		_ = m.Delete(ctx, k)
	}
	return nil
}

func (m *memStore) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []objstore.ObjectInfo
	for k, s := range m.size {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objstore.ObjectInfo{Key: k, Size: s})
		}
	}
	slices.SortFunc(out, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// fakeGroupCommitter is a fakeCommitter that also commits groups: each CommitGroup call is
// recorded, answered by failGroup when set (an error fails the whole group).
type fakeGroupCommitter struct {
	fakeCommitter
	failGroup func(seqs []uint64) error

	gmu    sync.Mutex
	groups [][]uint64
}

func (c *fakeGroupCommitter) CommitGroup(ctx context.Context, seqs []uint64, objs []Object) ([]Committed, error) {
	c.gmu.Lock()
	c.groups = append(c.groups, slices.Clone(seqs))
	c.gmu.Unlock()
	if c.failGroup != nil {
		if err := c.failGroup(seqs); err != nil {
			return nil, err
		}
	}
	out := make([]Committed, len(objs))
	for i, o := range objs {
		out[i] = Committed{Key: o.Key}
	}
	return out, nil
}

func (c *fakeGroupCommitter) MaxCommitGroup() int { return 10 }

func (c *fakeGroupCommitter) groupCalls() [][]uint64 {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	return slices.Clone(c.groups)
}
