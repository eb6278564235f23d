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

// mergeWindow chooses what one merge window merges of the plans due: each flush object it
// reads is read once, for all the partitions merging it, and held until the last of them
// is merged, so maxBytes, the most extent bytes a window holds, bounds the merge's memory.
// When the plans hold more, the window takes the maxBytes/minPiece partitions with the
// oldest data (the rest wait for a later window, which reads their objects again) and cuts
// them all at one flush object, oldest first, within maxBytes (at least the oldest
// object): each keeps the prefix of its extents inside the window (a segment covers
// consecutive offsets), about maxBytes over the partitions in the window, so at least
// about minPiece, and merges the rest in a later window. The partitions left with nothing
// and those not taken are returned in out, to be planned again.
func mergeWindow(plans []mergePlan, maxBytes, minPiece int64) (in []mergePlan, out []Partition) {
	if planBytes(plans) <= maxBytes {
		return plans, nil
	}
	if maxParts := int(max(1, maxBytes/max(minPiece, 1))); len(plans) > maxParts {
		plans = slices.Clone(plans)
		slices.SortStableFunc(plans, func(a, b mergePlan) int {
			return flushTime(a.cands[0].Key).Compare(flushTime(b.cands[0].Key))
		})
		for _, p := range plans[maxParts:] {
			out = append(out, p.lp)
		}
		plans = plans[:maxParts]
		if planBytes(plans) <= maxBytes {
			return plans, out
		}
	}
	type object struct {
		key   string
		ts    time.Time
		bytes int64
	}
	objs := make(map[string]*object)
	for _, p := range plans {
		for _, c := range p.cands {
			o, ok := objs[c.Key]
			if !ok {
				o = &object{key: c.Key, ts: flushTime(c.Key)}
				objs[c.Key] = o
			}
			o.bytes += c.Len
		}
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
	var cutOut []Partition
	for _, p := range plans {
		n := 0
		var bytes int64
		for n < len(p.cands) && before(objs[p.cands[n].Key], last) <= 0 {
			bytes += p.cands[n].Len
			n++
		}
		if n == 0 {
			cutOut = append(cutOut, p.lp)
			continue
		}
		in = append(in, mergePlan{lp: p.lp, cands: p.cands[:n], bytes: bytes})
	}
	if len(in) == 0 {
		// Only if a partition's extents are not in time order (never expected): merge the
		// first plan whole rather than make no progress.
		return plans[:1], append(out, cutOut[1:]...)
	}
	return in, append(out, cutOut...)
}

// planBytes is the extent bytes of plans.
func planBytes(plans []mergePlan) int64 {
	var n int64
	for _, p := range plans {
		n += p.bytes
	}
	return n
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
