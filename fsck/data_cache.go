package fsck

import (
	"context"
	"fmt"

	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// dataCacheBytes bounds the flush objects' data a rebuild keeps in memory: a flush object
// holds extents of many partitions, and a rebuild copies partition after partition, so
// reading each object once (one GET of its data region) instead of once per extent turns
// tens of thousands of GETs into one per object. Past the budget, extents are read alone.
const dataCacheBytes = 512 << 20

// dataCache holds the data regions of objects read whole. Used by one goroutine.
type dataCache struct {
	st     objstore.Store
	budget int64
	used   int64
	m      map[string][]byte
}

func newDataCache(st objstore.Store, budget int64) *dataCache {
	return &dataCache{st: st, budget: budget, m: map[string][]byte{}}
}

// extent returns the bytes of extent e of the object key whose footer is f.
func (c *dataCache) extent(ctx context.Context, key string, f *segment.Footer, e segment.Extent) ([]byte, error) {
	data, ok := c.m[key]
	if !ok && c.used+f.FooterPos <= c.budget {
		var err error
		if data, err = c.st.GetRange(ctx, key, 0, f.FooterPos); err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", key, err)
		}
		c.m[key], c.used, ok = data, c.used+f.FooterPos, true
	}
	if !ok {
		return segment.ReadExtent(ctx, c.st, key, e)
	}
	if e.Pos+e.Len > int64(len(data)) {
		return nil, fmt.Errorf("BUG: extent [%d, +%d) past the %d data bytes of %s", e.Pos, e.Len, len(data), key)
	}
	return data[e.Pos : e.Pos+e.Len], nil
}
