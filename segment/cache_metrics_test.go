package segment

import (
	"context"
	"testing"
)

// TestCacheSizeGaugesFollowAdmissionsAndEvictions: kafscale_cache_bytes and _entries read what
// the cache holds: each admitted range once, nothing for a hit, and no more than the budget
// once eviction runs; a closed cache leaves the sums.
func TestCacheSizeGaugesFollowAdmissionsAndEvictions(t *testing.T) {
	const rangeSize, budget = 64 << 10, 1 << 20
	data := testBatch(rangeSize*64, 4)
	c, _ := newCacheTest(t, CacheConfig{CacheBytes: budget, ExpectedItemBytes: rangeSize}, data, false)
	ctx := context.Background()
	bytesBefore, entriesBefore := sumCaches((*Cache).usedBytes), sumCaches((*Cache).entries)
	for range 2 { // the second pass hits
		for i := range int64(4) {
			if _, err := c.Get(ctx, "obj", i*rangeSize, rangeSize); err != nil {
				t.Fatal(err)
			}
			c.Wait()
		}
	}
	c.mu.RLock()
	used, entries := c.usedBytes(), c.entries()
	c.mu.RUnlock()
	if entries != 4 {
		t.Errorf("entries = %v after 4 ranges loaded and read twice; want 4", entries)
	}
	if min := float64(4 * (rangeSize + len("obj") + entryOverhead)); used < min || used > 2*min {
		t.Errorf("bytes = %v for 4 ranges of %d bytes; want at least %v and not double", used, rangeSize, min)
	}
	if got := sumCaches((*Cache).usedBytes) - bytesBefore; got != used {
		t.Errorf("kafscale_cache_bytes moved by %v; want this cache's %v", got, used)
	}
	if got := sumCaches((*Cache).entries) - entriesBefore; got != entries {
		t.Errorf("kafscale_cache_entries moved by %v; want this cache's %v", got, entries)
	}

	for i := range int64(64) {
		if _, err := c.Get(ctx, "obj", i*rangeSize, rangeSize); err != nil {
			t.Fatal(err)
		}
		c.Wait()
	}
	c.mu.RLock()
	used, entries = c.usedBytes(), c.entries()
	c.mu.RUnlock()
	if used > budget || used <= 0 || entries < 1 || entries > budget/rangeSize {
		t.Errorf("after 64 ranges through a %d-byte cache: bytes %v, entries %v; want within the budget", budget, used, entries)
	}

	c.Close()
	if got := sumCaches((*Cache).usedBytes); got != bytesBefore {
		t.Errorf("kafscale_cache_bytes = %v after Close; want %v as before the cache", got, bytesBefore)
	}
}
