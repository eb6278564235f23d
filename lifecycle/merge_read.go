package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

// mergeGapBytes is the largest run of unneeded bytes a merge read spans to join two needed
// ranges of one flush object into one GET: the extents of partitions not merged in the batch
// lie between those that are, and reading a few of their bytes is cheaper than a request
// (a GET costs as much as transferring ~5 MB out of a region, and nothing inside one).
const mergeGapBytes = 64 << 10

// mergePlan is one partition's merge in a round: the flush extents it will merge.
type mergePlan struct {
	lp    Partition
	cands []partition.Extent
	bytes int64
}

// mergeWindow cuts the plans of a round to the flush objects of one time window, oldest
// first, holding at most maxBytes of their extents (at least the oldest object's): the
// window's objects are read once for all the partitions merging them and held until the
// last of those is merged, so maxBytes bounds the merge's memory. Each plan keeps the
// prefix of its extents inside the window (a segment covers consecutive offsets); the
// partitions left with nothing, and those whose rest is still due, merge in the next
// window, which reads later objects only. Cutting every partition at the same object,
// rather than merging some partitions whole and the others in a later batch, is what
// keeps each object read once; the price is smaller segments when the partitions due hold
// more than maxBytes together (maxBytes over the partitions due, each).
func mergeWindow(plans []mergePlan, maxBytes int64) (in []mergePlan, out []Partition) {
	type object struct {
		key   string
		ts    time.Time
		bytes int64
	}
	objs := make(map[string]*object)
	var total int64
	for _, p := range plans {
		for _, c := range p.cands {
			o, ok := objs[c.Key]
			if !ok {
				o = &object{key: c.Key, ts: flushTime(c.Key)}
				objs[c.Key] = o
			}
			o.bytes += c.Len
			total += c.Len
		}
	}
	if total <= maxBytes {
		return plans, nil
	}
	order := make([]*object, 0, len(objs))
	for _, o := range objs {
		order = append(order, o)
	}
	before := func(a, b *object) int {
		if c := a.ts.Compare(b.ts); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	}
	slices.SortFunc(order, before)
	last, size := order[0], order[0].bytes
	for _, o := range order[1:] {
		if size+o.bytes > maxBytes {
			break
		}
		last, size = o, size+o.bytes
	}
	for _, p := range plans {
		n := 0
		var bytes int64
		for n < len(p.cands) && before(objs[p.cands[n].Key], last) <= 0 {
			bytes += p.cands[n].Len
			n++
		}
		if n == 0 {
			out = append(out, p.lp)
			continue
		}
		in = append(in, mergePlan{lp: p.lp, cands: p.cands[:n], bytes: bytes})
	}
	if len(in) == 0 {
		// Only if a partition's extents are not in time order (never expected): merge the
		// first plan whole rather than make no progress.
		return plans[:1], out[1:]
	}
	return in, out
}

// flushTime is when a flush object was named (its key's ULID); the zero time, oldest of
// all, for a key that is not a flush key (never expected of a merge candidate).
func flushTime(key string) time.Time {
	_, _, ts, err := segment.ParseFlushKey(key)
	if err != nil {
		return time.Time{}
	}
	return ts
}

// objectRange is one GET of a merge batch: bytes [pos, end) of a flush object.
type objectRange struct {
	key      string
	pos, end int64
	data     []byte
	err      error
}

// mergeRanges returns the GETs that read every candidate extent of the plans: per flush
// object, the needed ranges sorted and joined when they overlap or lie within mergeGapBytes
// of each other, so a flush object shared by the batch's partitions is read once.
func mergeRanges(plans []mergePlan) []*objectRange {
	byKey := make(map[string][]*objectRange)
	var keys []string
	for _, p := range plans {
		for _, c := range p.cands {
			if _, ok := byKey[c.Key]; !ok {
				keys = append(keys, c.Key)
			}
			byKey[c.Key] = append(byKey[c.Key], &objectRange{key: c.Key, pos: c.Pos, end: c.Pos + c.Len})
		}
	}
	var out []*objectRange
	for _, k := range keys {
		rs := byKey[k]
		slices.SortFunc(rs, func(a, b *objectRange) int { return cmp.Compare(a.pos, b.pos) })
		cur := rs[0]
		for _, r := range rs[1:] {
			if r.pos <= cur.end+mergeGapBytes {
				cur.end = max(cur.end, r.end)
				continue
			}
			out = append(out, cur)
			cur = r
		}
		out = append(out, cur)
	}
	return out
}

// readMergeBatch reads the candidate extents of a batch of merges, each flush object's
// needed bytes with one ranged GET (mergeRanges), mergeReadAhead GETs in flight: on S3's
// latency one GET at a time falls behind what is written (docs/benchmarks.md, "Object-store
// cost at steady state"). It returns, per plan, its extents' bytes in candidate order (slices
// of the shared reads) or the error of the first read it needed that failed; a failed read
// fails only the plans that need it.
func readMergeBatch(ctx context.Context, st objstore.Store, plans []mergePlan) ([][][]byte, []error) {
	ranges := mergeRanges(plans)
	sem := make(chan struct{}, mergeReadAhead)
	var wg sync.WaitGroup
	for _, r := range ranges {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.data, r.err = st.GetRange(ctx, r.key, r.pos, r.end-r.pos)
			if r.err == nil && int64(len(r.data)) != r.end-r.pos {
				r.err = fmt.Errorf("short read: %d bytes where %d were asked", len(r.data), r.end-r.pos)
			}
		}()
	}
	wg.Wait()
	byKey := make(map[string][]*objectRange)
	for _, r := range ranges {
		byKey[r.key] = append(byKey[r.key], r)
	}
	data := make([][][]byte, len(plans))
	errs := make([]error, len(plans))
	for i, p := range plans {
		d := make([][]byte, len(p.cands))
		for j, c := range p.cands {
			var src *objectRange
			for _, r := range byKey[c.Key] {
				if r.pos <= c.Pos && c.Pos+c.Len <= r.end {
					src = r
					break
				}
			}
			if src == nil {
				errs[i] = fmt.Errorf("BUG: extent %d-%d of %s is in no merge read", c.BaseOffset, c.LastOffset, c.Key)
				break
			}
			if src.err != nil {
				errs[i] = fmt.Errorf("cannot read extent %d-%d of %s: %w", c.BaseOffset, c.LastOffset, c.Key, src.err)
				break
			}
			d[j] = src.data[c.Pos-src.pos : c.Pos-src.pos+c.Len : c.Pos-src.pos+c.Len]
		}
		if errs[i] == nil {
			data[i] = d
		}
	}
	return data, errs
}
