package segment

import (
	"container/list"
	"sync"
)

// aheadFraction is the share of --cache-bytes kept for ranges loaded ahead of their reader
// (Cache.Start and Cache.Prefetch) and not yet read.
const aheadFraction = 2 // a half: 128 MiB of the default 256 MiB, 5 MiB (a fetch's 1 MiB and --read-ahead-bytes) for each of 25 partitions read at once

// aheadRanges holds the ranges loaded ahead of their reader, outside
// ristretto's admission policy. That policy (TinyLFU) admits a new entry into a full cache
// only if it was asked for more often than the entries it would evict; a range loaded
// ahead has been asked for once at most, and the ranges a consumer has just read, which it
// will not read again, more often. So once the cache was full every range read ahead was
// dropped on arrival and loaded again by its Get: at the maximum fetch rate each byte a
// consumer read was loaded six times (docs/benchmarks.md, "Profiles"). Here a range stays
// until newer ones push it out (first in, first out, when the bytes exceed max), read or
// not: a consumer's next fetch of a partition usually starts inside the range its last
// fetch ended in. Safe for concurrent use.
type aheadRanges struct {
	mu    sync.Mutex
	max   int64
	bytes int64
	items map[uint64]*list.Element // of *aheadItem
	order list.List                // oldest first
}

type aheadItem struct {
	hk   uint64
	e    *cacheEntry
	cost int64
}

func newAheadRanges(max int64) *aheadRanges {
	return &aheadRanges{max: max, items: map[uint64]*list.Element{}}
}

// put holds e (of the given cost), dropping the oldest ranges beyond max. It
// reports false, holding nothing, for a range larger than max.
func (a *aheadRanges) put(hk uint64, e *cacheEntry, cost int64) bool {
	if cost > a.max {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.items[hk]; ok {
		a.bytes -= el.Value.(*aheadItem).cost
		a.order.Remove(el)
	}
	a.items[hk] = a.order.PushBack(&aheadItem{hk: hk, e: e, cost: cost})
	a.bytes += cost
	for a.bytes > a.max {
		oldest := a.order.Front()
		it := oldest.Value.(*aheadItem)
		a.order.Remove(oldest)
		delete(a.items, it.hk)
		a.bytes -= it.cost
		aheadDropped.Inc()
	}
	return true
}

// get returns the range held under hk.
func (a *aheadRanges) get(hk uint64) (*cacheEntry, int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	el, ok := a.items[hk]
	if !ok {
		return nil, 0, false
	}
	it := el.Value.(*aheadItem)
	return it.e, it.cost, true
}

// held returns the bytes held and their number of ranges.
func (a *aheadRanges) held() (int64, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bytes, len(a.items)
}

// clear drops every range.
func (a *aheadRanges) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.items)
	a.order.Init()
	a.bytes = 0
}
