package partition

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// waitBound is how long a test waits for something that should happen at once.
const waitBound = 20 * time.Second

var testTopicID = [16]byte{0xa1, 0xb2}

// testState is an empty partition led at epoch 5.
func testState() State {
	return State{TopicID: testTopicID, Topic: "orders", Partition: 3, LeaderEpoch: 5}
}

// fakeCommitter commits every object; void, when set, names partitions to void.
type fakeCommitter struct {
	void func(seq uint64, obj flush.Object) []flush.PartitionID

	mu   sync.Mutex
	seqs []uint64
}

func (c *fakeCommitter) Commit(ctx context.Context, seq uint64, obj flush.Object) (flush.Committed, error) {
	c.mu.Lock()
	c.seqs = append(c.seqs, seq)
	c.mu.Unlock()
	if c.void != nil {
		return flush.Committed{Key: obj.Key, Voided: c.void(seq, obj)}, nil
	}
	return flush.Committed{Key: obj.Key}, nil
}

// harness wires a Log to a real flusher, a local object store and a range cache.
type harness struct {
	store   *objstore.Local
	cache   *segment.Cache
	flusher *flush.Flusher
	com     *fakeCommitter
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := segment.NewCache(segment.CacheConfig{CacheBytes: 1 << 20}, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Close)
	cfg := flush.Config{
		FlushBytes:     1 << 20,
		FlushInterval:  time.Hour, // cut by commit() only
		BufferBytes:    8 << 20,
		RetryMin:       time.Millisecond,
		RetryMax:       4 * time.Millisecond,
		AttemptTimeout: 5 * time.Second,
	}
	com := &fakeCommitter{}
	var n atomic.Uint64
	keyFn := func() string { return fmt.Sprintf("flush/1/1/%08d", n.Add(1)) }
	fl := flush.New(cfg, st, com, keyFn, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { // runs before cache.Close
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		_ = fl.Close(ctx)
	})
	return &harness{store: st, cache: cache, flusher: fl, com: com}
}

// countingStore counts the GETs of each key, when they start and when they return.
type countingStore struct {
	objstore.Store

	mu       sync.Mutex
	started  map[string]int
	finished map[string]int
}

func newCountingStore(st objstore.Store) *countingStore {
	return &countingStore{Store: st, started: map[string]int{}, finished: map[string]int{}}
}

func (s *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.count(s.started, key)
	defer s.count(s.finished, key)
	return s.Store.GetRange(ctx, key, off, n)
}

func (s *countingStore) count(m map[string]int, key string) {
	s.mu.Lock()
	m[key]++
	s.mu.Unlock()
}

// gets returns how many GETs of key have started and how many have returned.
func (s *countingStore) gets(key string) (started, finished int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started[key], s.finished[key]
}

func (h *harness) newLog(cfg Config, st State) *Log {
	return New(cfg, st, h.flusher, h.cache)
}

// append reserves and appends a batch, failing the test on error.
func (h *harness) append(t *testing.T, l *Log, batch []byte) (int64, *flush.Flush) {
	t.Helper()
	if err := h.flusher.Reserve(context.Background(), int64(len(batch))); err != nil {
		t.Fatal(err)
	}
	res, err := l.Append(batch, header(t, batch))
	base, fl := res.BaseOffset, res.Flush
	if err != nil {
		h.flusher.Unreserve(int64(len(batch)))
		t.Fatalf("Append: %v", err)
	}
	return base, fl
}

// commit cuts the open flush and waits for fl, returning its outcome for l.
func (h *harness) commit(t *testing.T, l *Log, fl *flush.Flush) error {
	t.Helper()
	h.flusher.Flush()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	err := fl.Wait(ctx, l)
	if ctx.Err() != nil {
		t.Fatalf("flush not done after %s", waitBound)
	}
	return err
}

// appendCommitted appends batches into one flush and commits it.
func (h *harness) appendCommitted(t *testing.T, l *Log, batches ...[]byte) {
	t.Helper()
	var fl *flush.Flush
	for _, b := range batches {
		_, fl = h.append(t, l, b)
	}
	if err := h.commit(t, l, fl); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// putObject writes batches of st's partition, from offset base, as one flush object the way
// a previous leader would have, and returns its extent for State.Extents. The batches are
// patched in place.
func (h *harness) putObject(t *testing.T, key string, st State, base int64, batches ...[]byte) Extent {
	t.Helper()
	var b segment.Builder
	for _, bt := range batches {
		hd := header(t, bt)
		codec.SetBaseOffset(bt, base)
		codec.SetPartitionLeaderEpoch(bt, st.LeaderEpoch)
		last := base + int64(hd.LastOffsetDelta)
		b.Add(st.TopicID, st.Partition, st.LeaderEpoch, bt, base, last, hd.MaxTimestamp)
		base = last + 1
	}
	parts, size, footer := b.Finish()
	if err := h.store.Put(context.Background(), key, parts, size); err != nil {
		t.Fatal(err)
	}
	return Extent{Key: key, Extent: footer.Extents[0]}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitFor fails the test unless cond holds within waitBound, polling it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not done after %s", what, waitBound)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitClosed fails the test unless ch closes within waitBound.
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitBound):
		t.Fatalf("%s not closed after %s", what, waitBound)
	}
}

// waitOn registers a new Waiter on l at its current high watermark.
func waitOn(l *Log) <-chan struct{} {
	w := NewWaiter()
	_, hw, _ := l.Offsets()
	l.Wait(w, hw)
	return w
}
