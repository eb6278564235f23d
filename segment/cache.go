package segment

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
	"github.com/dgraph-io/ristretto/v2"
	"golang.org/x/sync/singleflight"

	"github.com/kafscale/kafscale/objstore"
)

var (
	cacheHits            = metrics.NewCounter("kafscale_cache_hits_total")
	cacheMisses          = metrics.NewCounter("kafscale_cache_misses_total")
	cachePrefetchDropped = metrics.NewCounter("kafscale_cache_prefetch_dropped_total")
	cachePrefetchErrors  = metrics.NewCounter("kafscale_cache_prefetch_errors_total")
	// aheadDropped counts ranges loaded ahead of their reader (read-ahead, a fetch's
	// warm-up) and dropped unread to make room for newer ones.
	aheadDropped = metrics.NewCounter("kafscale_cache_ahead_dropped_total")
	_            = metrics.NewGauge("kafscale_cache_hit_ratio", func() float64 {
		h, m := cacheHits.Get(), cacheMisses.Get()
		if h+m == 0 {
			return 0
		}
		return float64(h) / float64(h+m)
	})
	// Size and capacity of the live caches (one per broker; tests run several in a
	// process), in bytes as --cache-bytes counts them (data, key and a per-entry overhead).
	_ = metrics.NewGauge("kafscale_cache_bytes", func() float64 { return sumCaches((*Cache).usedBytes) })
	_ = metrics.NewGauge("kafscale_cache_entries", func() float64 { return sumCaches((*Cache).entries) })
	_ = metrics.NewGauge("kafscale_cache_capacity_bytes", func() float64 {
		return sumCaches(func(c *Cache) float64 { return float64(c.rc.MaxCost() + c.ahead.max) })
	})
)

// liveCaches holds the caches between NewCache and Close, for the size gauges.
var liveCaches sync.Map // *Cache -> struct{}

// sumCaches adds f over the live caches.
func sumCaches(f func(*Cache) float64) float64 {
	var sum float64
	liveCaches.Range(func(k, _ any) bool {
		c := k.(*Cache)
		c.mu.RLock()
		if !c.closed {
			sum += f(c)
		}
		c.mu.RUnlock()
		return true
	})
	return sum
}

// usedBytes is the cost held: ristretto's admitted cost minus its evicted cost (updates
// adjust the admitted one). Lock must be held (read) and the cache open.
func (c *Cache) usedBytes() float64 {
	m := c.rc.Metrics
	ahead, _ := c.ahead.held()
	return float64(int64(m.CostAdded()-m.CostEvicted()) + ahead)
}

// entries is the ranges held. Lock must be held (read) and the cache open.
func (c *Cache) entries() float64 {
	m := c.rc.Metrics
	_, ahead := c.ahead.held()
	return float64(int64(m.KeysAdded()-m.KeysEvicted()) + int64(ahead))
}

// ErrCacheClosed is returned by Get on a miss after Close.
var ErrCacheClosed = errors.New("range cache closed")

// CacheConfig holds the settings of the range cache.
type CacheConfig struct {
	// CacheBytes bounds the bytes of cached ranges (plus a small per-entry overhead).
	CacheBytes int64
	// ExpectedItemBytes is the typical range size; it sizes the admission policy's counters.
	ExpectedItemBytes int64
	// PrefetchConcurrency bounds background read-ahead loads; further Prefetch calls are dropped.
	PrefetchConcurrency int
}

// Defaults of CacheConfig.
const (
	DefaultCacheBytes        = 256 << 20
	DefaultExpectedItemBytes = 64 << 10
	// DefaultPrefetchConcurrency allows 16 read-ahead loads at once: at S3 Standard's tens of
	// milliseconds per GET and 1 MiB chunks, what a catching-up consumer needs to read well
	// over 150 MiB/s (docs/benchmarks.md, "Catch-up reads"); 16 MiB in flight at most.
	DefaultPrefetchConcurrency = 16
	entryOverhead              = 64 // bytes charged per entry beyond its data and key
)

// DefaultCacheConfig returns the cache settings used when nothing is configured.
func DefaultCacheConfig() CacheConfig {
	return CacheConfig{
		CacheBytes:          DefaultCacheBytes,
		ExpectedItemBytes:   DefaultExpectedItemBytes,
		PrefetchConcurrency: DefaultPrefetchConcurrency,
	}
}

// CacheStats counts one cache's lookups.
type CacheStats struct {
	Hits, Misses uint64
}

// cacheEntry is a cached range; it carries its identity because ristretto keys on a 64-bit
// hash only, and a collision must read as a miss, not as another range's bytes.
type cacheEntry struct {
	key    string
	pos, n int64
	data   []byte
}

// Cache is a ristretto-backed cache of object byte ranges with singleflight for concurrent
// misses. Ranges are cached as asked for: a sub-range of a cached range is a miss. Objects are
// immutable, so entries never go stale. Safe for concurrent use.
//
// Loads run under the cache's own context, not the caller's, so one caller giving up does not
// fail the others waiting for the same range; Close cancels them. Prefetch goroutines are
// owned by the cache and joined by Close.
type Cache struct {
	st objstore.Store
	rc *ristretto.Cache[uint64, *cacheEntry]
	// ahead holds the latest ranges loaded by Start and Prefetch (aheadRanges says
	// why); a quarter of CacheBytes, rc the rest.
	ahead *aheadRanges
	seed  maphash.Seed
	group singleflight.Group

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	sem    chan struct{} // prefetch slots

	// mu is read-locked around every use of rc and every wg.Add, and write-locked by Close
	// to set closed: ristretto's Close must not run concurrently with Get or Set, and
	// wg.Add must not race with Close's wg.Wait.
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	hits, misses atomic.Uint64
}

// NewCache returns a cache of st's ranges. Zero fields of cfg take DefaultCacheConfig's values.
func NewCache(cfg CacheConfig, st objstore.Store) (*Cache, error) {
	d := DefaultCacheConfig()
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = d.CacheBytes
	}
	if cfg.ExpectedItemBytes == 0 {
		cfg.ExpectedItemBytes = d.ExpectedItemBytes
	}
	if cfg.PrefetchConcurrency == 0 {
		cfg.PrefetchConcurrency = d.PrefetchConcurrency
	}
	if cfg.CacheBytes < 0 || cfg.ExpectedItemBytes < 0 || cfg.PrefetchConcurrency < 0 {
		return nil, fmt.Errorf("cannot create range cache: negative setting in %+v", cfg)
	}
	aheadBytes := cfg.CacheBytes / aheadFraction
	rc, err := ristretto.NewCache(&ristretto.Config[uint64, *cacheEntry]{
		// Ten counters per expected entry, as ristretto recommends.
		NumCounters: max(10*cfg.CacheBytes/cfg.ExpectedItemBytes, 1000),
		MaxCost:     max(cfg.CacheBytes-aheadBytes, 1),
		BufferItems: 64,
		// For kafscale_cache_bytes and _entries: ristretto alone knows what its policy
		// admitted and evicted. Its counters are striped atomics, cheap next to a GET.
		Metrics: true,
		// Keys are already our own 64-bit hashes; entries verify identity.
		KeyToHash: func(k uint64) (uint64, uint64) { return k, 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("cannot create range cache: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		st:     st,
		rc:     rc,
		ahead:  newAheadRanges(aheadBytes),
		seed:   maphash.MakeSeed(),
		ctx:    ctx,
		cancel: cancel,
		sem:    make(chan struct{}, cfg.PrefetchConcurrency),
	}
	liveCaches.Store(c, struct{}{})
	return c, nil
}

// hash returns the ristretto key of a range.
func (c *Cache) hash(key string, pos, n int64) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(key)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(pos))
	binary.LittleEndian.PutUint64(b[8:], uint64(n))
	h.Write(b[:])
	return h.Sum64()
}

// lookup returns the cached bytes of a range, if present, in the cache or loaded ahead.
func (c *Cache) lookup(hk uint64, key string, pos, n int64) ([]byte, bool) {
	return c.find(hk, key, pos, n, false)
}

// take is lookup for the range's reader: a range loaded ahead is also offered to the
// cache, and stays among those loaded ahead until newer ones push it out, since the next
// fetch of a partition often starts inside the range the last one ended in.
func (c *Cache) take(hk uint64, key string, pos, n int64) ([]byte, bool) {
	return c.find(hk, key, pos, n, true)
}

func (c *Cache) find(hk uint64, key string, pos, n int64, take bool) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, false
	}
	e, ok := c.rc.Get(hk)
	if !ok {
		var cost int64
		if e, cost, ok = c.ahead.get(hk); ok && take {
			c.rc.Set(hk, e, cost)
		}
	}
	if !ok || e.pos != pos || e.n != n || e.key != key {
		return nil, false
	}
	return e.data, true
}

// Get returns bytes [pos, pos+n) of object key, from the cache or with one ranged GET shared
// by all concurrent callers asking for the same range. The returned slice is shared: callers
// must not modify it.
func (c *Cache) Get(ctx context.Context, key string, pos, n int64) ([]byte, error) {
	hk := c.hash(key, pos, n)
	if data, ok := c.take(hk, key, pos, n); ok {
		c.hits.Add(1)
		cacheHits.Inc()
		return data, nil
	}
	if c.ctx.Err() != nil {
		c.misses.Add(1)
		cacheMisses.Inc()
		return nil, fmt.Errorf("cannot get range [%d, +%d) of %s: %w", pos, n, key, ErrCacheClosed)
	}
	ch := c.load(hk, key, pos, n, false)
	// Counted once joined to the load, so a miss count tells tests the caller is waiting.
	c.misses.Add(1)
	cacheMisses.Inc()
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		if r.Shared {
			// Joined a load started ahead: what it left for this reader has been read.
			c.take(hk, key, pos, n)
		}
		return r.Val.([]byte), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("cannot get range [%d, +%d) of %s: %w", pos, n, key, ctx.Err())
	}
}

// load starts (or joins) the fetch of a range and caches its result: in the cache, or,
// for a load started ahead of its reader, among the ranges loaded ahead.
func (c *Cache) load(hk uint64, key string, pos, n int64, ahead bool) <-chan singleflight.Result {
	sfKey := key + "\x00" + strconv.FormatInt(pos, 10) + "+" + strconv.FormatInt(n, 10)
	return c.group.DoChan(sfKey, func() (any, error) {
		data, err := c.st.GetRange(c.ctx, key, pos, n)
		if err != nil {
			return nil, err
		}
		c.mu.RLock()
		if !c.closed {
			e, cost := &cacheEntry{key: key, pos: pos, n: n, data: data}, n+int64(len(key))+entryOverhead
			if !ahead || !c.ahead.put(hk, e, cost) {
				c.rc.Set(hk, e, cost)
			}
		}
		c.mu.RUnlock()
		return data, nil
	})
}

// Start begins loading a range its caller is about to Get, in the background and shared
// with any other caller, unless it is cached already: a fetch of many partitions starts all
// its object reads before waiting for the first, so they overlap instead of queueing. Unlike
// Prefetch it is not bounded by PrefetchConcurrency, since the caller's Get would load the
// range anyway; the ranges it starts are bounded by the fetch's byte limits.
func (c *Cache) Start(key string, pos, n int64) {
	hk := c.hash(key, pos, n)
	if _, ok := c.lookup(hk, key, pos, n); ok {
		return
	}
	if c.ctx.Err() != nil {
		return
	}
	c.load(hk, key, pos, n, true) // DoChan runs the load in its own goroutine
}

// Prefetch loads a range into the cache in the background (read-ahead). It never blocks: when
// PrefetchConcurrency loads are already running, or after Close, the request is dropped.
func (c *Cache) Prefetch(key string, pos, n int64) {
	hk := c.hash(key, pos, n)
	if _, ok := c.lookup(hk, key, pos, n); ok {
		return
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return
	}
	select {
	case c.sem <- struct{}{}:
	default:
		c.mu.RUnlock()
		cachePrefetchDropped.Inc()
		return
	}
	c.wg.Add(1)
	c.mu.RUnlock()
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		if r := <-c.load(hk, key, pos, n, true); r.Err != nil && c.ctx.Err() == nil {
			cachePrefetchErrors.Inc()
		}
	}()
}

// Wait blocks until earlier insertions are applied; ristretto applies them asynchronously.
func (c *Cache) Wait() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.closed {
		c.rc.Wait()
	}
}

// Stats returns this cache's hit and miss counts.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// Close cancels running loads, waits for prefetches to end and releases the cache. Get
// misses fail with ErrCacheClosed afterwards.
func (c *Cache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	liveCaches.Delete(c)
	// From here no Get, Set or wg.Add can start (they check closed under mu), and those
	// that ran have released mu, so rc is ours alone.
	c.cancel()
	c.wg.Wait()
	c.rc.Close()
	c.ahead.clear()
}
