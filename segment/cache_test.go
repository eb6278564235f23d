package segment

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/objstore"
)

// gatedStore counts GetRange calls and, when gate is set, holds each call until gate closes.
type gatedStore struct {
	objstore.Store
	calls   atomic.Int64
	running atomic.Int64 // calls currently inside GetRange
	gate    chan struct{}
}

func (s *gatedStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.calls.Add(1)
	s.running.Add(1)
	defer s.running.Add(-1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.GetRange(ctx, key, off, n)
}

// newCacheTest returns a cache over a local store holding "obj" = data.
func newCacheTest(t *testing.T, cfg CacheConfig, data []byte, gated bool) (*Cache, *gatedStore) {
	t.Helper()
	local, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Put(context.Background(), "obj", [][]byte{data}, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	st := &gatedStore{Store: local}
	if gated {
		st.gate = make(chan struct{})
	}
	c, err := NewCache(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, st
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheHitAfterMiss(t *testing.T) {
	data := testBatch(4096, 1)
	c, st := newCacheTest(t, CacheConfig{}, data, false)
	ctx := context.Background()
	for i := range 3 {
		got, err := c.Get(ctx, "obj", 100, 200)
		if err != nil || !bytes.Equal(got, data[100:300]) {
			t.Fatalf("Get #%d = %v", i, err)
		}
		c.Wait()
	}
	if st.calls.Load() != 1 {
		t.Fatalf("store read %d times; want 1", st.calls.Load())
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 1 {
		t.Fatalf("stats = %+v; want 2 hits, 1 miss", s)
	}
	// A different range of the same object is its own entry.
	if got, err := c.Get(ctx, "obj", 100, 201); err != nil || !bytes.Equal(got, data[100:301]) {
		t.Fatalf("Get of another range = %v", err)
	}
	if st.calls.Load() != 2 {
		t.Fatalf("store read %d times; want 2", st.calls.Load())
	}
}

func TestCacheConcurrentMissesShareOneRead(t *testing.T) {
	data := testBatch(1<<16, 2)
	c, st := newCacheTest(t, CacheConfig{}, data, true)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			got, err := c.Get(context.Background(), "obj", 1000, 5000)
			if err == nil && !bytes.Equal(got, data[1000:6000]) {
				err = errors.New("wrong bytes")
			}
			errs[i] = err
		})
	}
	waitFor(t, "all Gets to miss", func() bool { return c.Stats().Misses == n })
	close(st.gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Get #%d: %v", i, err)
		}
	}
	if st.calls.Load() != 1 {
		t.Fatalf("store read %d times for %d concurrent Gets; want 1", st.calls.Load(), n)
	}
}

// TestCacheCallerCancelDoesNotFailOthers guards against one impatient fetch failing every
// other reader of the same range through the shared load.
func TestCacheCallerCancelDoesNotFailOthers(t *testing.T) {
	data := testBatch(1<<12, 3)
	c, st := newCacheTest(t, CacheConfig{}, data, true)
	ctx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, "obj", 0, 10)
		impatient <- err
	}()
	patient := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "obj", 0, 10)
		patient <- err
	}()
	waitFor(t, "both Gets to miss", func() bool { return c.Stats().Misses == 2 })
	cancel()
	if err := <-impatient; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Get error = %v; want context.Canceled", err)
	}
	close(st.gate)
	if err := <-patient; err != nil {
		t.Fatalf("other Get failed: %v", err)
	}
}

func TestCacheEvictionKeepsBytesBounded(t *testing.T) {
	const rangeSize, ranges, budget = 64 << 10, 64, 1 << 20
	data := testBatch(rangeSize*ranges, 4)
	c, _ := newCacheTest(t, CacheConfig{CacheBytes: budget, ExpectedItemBytes: rangeSize}, data, false)
	ctx := context.Background()
	for round := range 3 {
		for i := range int64(ranges) {
			if _, err := c.Get(ctx, "obj", i*rangeSize, rangeSize); err != nil {
				t.Fatalf("round %d Get %d: %v", round, i, err)
			}
			c.Wait()
		}
	}
	resident := 0
	for i := range int64(ranges) {
		if _, ok := c.lookup(c.hash("obj", i*rangeSize, rangeSize), "obj", i*rangeSize, rangeSize); ok {
			resident++
		}
	}
	if cost := resident * (rangeSize + len("obj") + entryOverhead); cost > budget || resident == 0 {
		t.Fatalf("%d ranges (%d bytes) resident; want between 1 and the %d-byte budget", resident, cost, budget)
	}
}

// TestCacheHashCollisionReadsAsMiss guards against serving another range's bytes when two
// ranges share a 64-bit hash.
func TestCacheHashCollisionReadsAsMiss(t *testing.T) {
	data := testBatch(100, 5)
	c, st := newCacheTest(t, CacheConfig{}, data, false)
	c.rc.Set(c.hash("obj", 0, 10), &cacheEntry{key: "other", pos: 0, n: 10, data: make([]byte, 10)}, 10)
	c.Wait()
	got, err := c.Get(context.Background(), "obj", 0, 10)
	if err != nil || !bytes.Equal(got, data[:10]) || st.calls.Load() != 1 {
		t.Fatalf("Get = %v after %d store reads; want the object's bytes from the store", err, st.calls.Load())
	}
}

func TestCachePrefetchLoadsInBackground(t *testing.T) {
	data := testBatch(1<<12, 6)
	c, st := newCacheTest(t, CacheConfig{}, data, false)
	c.Prefetch("obj", 10, 20)
	waitFor(t, "prefetch to land", func() bool {
		c.Wait()
		_, ok := c.lookup(c.hash("obj", 10, 20), "obj", 10, 20)
		return ok
	})
	got, err := c.Get(context.Background(), "obj", 10, 20)
	if err != nil || !bytes.Equal(got, data[10:30]) || st.calls.Load() != 1 {
		t.Fatalf("Get after Prefetch = %v with %d store reads; want a hit", err, st.calls.Load())
	}
	c.Prefetch("obj", 10, 20) // already cached: no read
	if st.calls.Load() != 1 {
		t.Fatalf("Prefetch of a cached range read the store")
	}
}

func TestCachePrefetchConcurrencyIsBounded(t *testing.T) {
	data := testBatch(1<<12, 7)
	c, st := newCacheTest(t, CacheConfig{PrefetchConcurrency: 2}, data, true)
	for i := range int64(5) {
		c.Prefetch("obj", i*10, 10)
	}
	waitFor(t, "two prefetches to start", func() bool { return st.running.Load() == 2 })
	if st.calls.Load() != 2 {
		t.Fatalf("%d prefetch reads started; want 2 (the rest dropped)", st.calls.Load())
	}
	close(st.gate)
}

func TestCacheCloseCancelsPrefetchAndFailsMisses(t *testing.T) {
	data := testBatch(1<<12, 8)
	c, st := newCacheTest(t, CacheConfig{}, data, true)
	c.Prefetch("obj", 0, 10)
	waitFor(t, "prefetch to start", func() bool { return st.running.Load() == 1 })
	c.Close() // must not hang on the gated read: Close cancels it
	if _, err := c.Get(context.Background(), "obj", 0, 10); !errors.Is(err, ErrCacheClosed) {
		t.Fatalf("Get after Close error = %v; want ErrCacheClosed", err)
	}
	c.Prefetch("obj", 20, 10) // dropped, no goroutine
	c.Close()                 // idempotent
}

func TestCacheReportsStoreErrors(t *testing.T) {
	c, _ := newCacheTest(t, CacheConfig{}, testBatch(10, 9), false)
	for _, tc := range []struct {
		key    string
		pos, n int64
		want   error
	}{{"absent", 0, 1, objstore.ErrNotFound}, {"obj", 5, 10, objstore.ErrOutOfRange}} {
		if _, err := c.Get(context.Background(), tc.key, tc.pos, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("Get(%s, %d, %d) error = %v; want %v", tc.key, tc.pos, tc.n, err, tc.want)
		}
	}
}

func TestNewCacheRejectsNegativeSettings(t *testing.T) {
	for _, cfg := range []CacheConfig{{CacheBytes: -1}, {ExpectedItemBytes: -1}, {PrefetchConcurrency: -1}} {
		if c, err := NewCache(cfg, nil); err == nil {
			c.Close()
			t.Errorf("NewCache(%+v) succeeded", cfg)
		}
	}
}

// TestCacheKeepsRangesLoadedAheadUntilRead guards against read-ahead thrown away on
// arrival: with the cache full of ranges read several times, ristretto's admission policy
// refused a range loaded ahead (asked for once at most), so its reader loaded it again (at
// the maximum fetch rate every byte read was loaded six times). A range started or
// prefetched into a full cache is read without a second load.
func TestCacheKeepsRangesLoadedAheadUntilRead(t *testing.T) {
	const rangeSize, ranges, budget = 64 << 10, 40, 1 << 20
	data := testBatch(rangeSize*ranges, 11)
	c, st := newCacheTest(t, CacheConfig{CacheBytes: budget, ExpectedItemBytes: rangeSize}, data, false)
	ctx := context.Background()
	for round := range 4 { // fill the cache with ranges read often
		for i := range int64(16) {
			if _, err := c.Get(ctx, "obj", i*rangeSize, rangeSize); err != nil {
				t.Fatalf("round %d Get %d: %v", round, i, err)
			}
			c.Wait()
		}
	}
	for i := int64(20); i < 24; i++ {
		before := st.calls.Load()
		if i%2 == 0 {
			c.Prefetch("obj", i*rangeSize, rangeSize)
		} else {
			c.Start("obj", i*rangeSize, rangeSize)
		}
		waitFor(t, "the range loaded ahead", func() bool {
			c.Wait()
			_, ok := c.lookup(c.hash("obj", i*rangeSize, rangeSize), "obj", i*rangeSize, rangeSize)
			return ok
		})
		got, err := c.Get(ctx, "obj", i*rangeSize, rangeSize)
		if err != nil || !bytes.Equal(got, data[i*rangeSize:(i+1)*rangeSize]) {
			t.Fatalf("Get %d after loading it ahead: %v", i, err)
		}
		if n := st.calls.Load() - before; n != 1 {
			t.Errorf("range %d loaded ahead into a full cache: %d store reads, want 1", i, n)
		}
	}
}

// TestCacheRangesLoadedAheadStayBounded: ranges loaded ahead and never read take at most
// a quarter of CacheBytes; the oldest go first.
func TestCacheRangesLoadedAheadStayBounded(t *testing.T) {
	const rangeSize, ranges, budget = 64 << 10, 32, 1 << 20
	data := testBatch(rangeSize*ranges, 12)
	c, st := newCacheTest(t, CacheConfig{CacheBytes: budget, ExpectedItemBytes: rangeSize}, data, false)
	for i := range int64(ranges) {
		c.Start("obj", i*rangeSize, rangeSize)
	}
	waitFor(t, "every range loaded", func() bool { return st.calls.Load() == ranges && st.running.Load() == 0 })
	held, n := c.ahead.held()
	if held > budget/aheadFraction || n == 0 {
		t.Fatalf("%d ranges (%d bytes) held ahead; want between 1 and %d bytes", n, held, budget/aheadFraction)
	}
	c.Wait()
	if _, ok := c.lookup(c.hash("obj", 0, rangeSize), "obj", 0, rangeSize); ok {
		t.Errorf("the oldest range loaded ahead is still held past the bound")
	}
}
