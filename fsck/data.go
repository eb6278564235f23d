package fsck

import (
	"context"
	"fmt"
	"sync"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// KindCorruptData: an extent's bytes are not the record batches its footer describes (a
// batch's CRC-32C, framing, or offsets differ). Only checked with Options.VerifyData.
const KindCorruptData = "corrupt-data"

// verifyData reads every extent of every object with a decoded footer, parallel objects
// at a time, and reports those whose batches do not validate (codec.ValidateBatch: framing
// and CRC-32C, which covers everything after the offsets and epoch the broker patches) or
// do not span the extent's offsets. It reads the whole bucket once.
func verifyData(ctx context.Context, st objstore.Store, objs []*Object, parallel int, r *Report) error {
	var mu sync.Mutex // guards r and firstErr
	var firstErr error
	work := make(chan *Object)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				// One GET of the data region per object, not one per extent.
				cache := newDataCache(st, o.Footer.FooterPos)
				for _, e := range o.Footer.Extents {
					b, err := cache.extent(ctx, o.Key, o.Footer, e)
					if err != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						break
					}
					if why := checkExtentData(b, e); why != "" {
						mu.Lock()
						r.problem(Finding{Kind: KindCorruptData, Object: o.Key, Partition: part(e.Partition),
							Detail: fmt.Sprintf("extent of topic id %x at [%d, +%d), offsets %d-%d: %s", e.TopicID, e.Pos, e.Len, e.BaseOffset, e.LastOffset, why)})
						mu.Unlock()
					}
				}
			}
		}()
	}
	for _, o := range objs {
		if o.Footer != nil {
			work <- o
		}
	}
	close(work)
	wg.Wait()
	return firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// checkExtentData returns why b is not the batches of e, or "".
func checkExtentData(b []byte, e segment.Extent) string {
	first, last, n := int64(-1), int64(-1), int32(0)
	for len(b) > 0 {
		batch, rest, err := codec.NextBatch(b)
		if err != nil {
			return err.Error()
		}
		h, err := codec.ValidateBatch(batch)
		if err != nil {
			return fmt.Sprintf("batch %d: %v", n, err)
		}
		if h.BaseOffset <= last {
			return fmt.Sprintf("batch %d at offset %d does not follow offset %d", n, h.BaseOffset, last)
		}
		if first < 0 {
			first = h.BaseOffset
		}
		last = h.LastOffset()
		n++
		b = rest
	}
	switch {
	case first != e.BaseOffset || last != e.LastOffset:
		return fmt.Sprintf("batches hold offsets %d-%d", first, last)
	case n != e.Batches:
		return fmt.Sprintf("%d batches, the footer says %d", n, e.Batches)
	}
	return ""
}
