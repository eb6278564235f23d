package fsck

import (
	"fmt"
	"sort"

	"github.com/kafscale/kafscale/segment"
)

// A rebuild knows a partition's log only from the bucket: merged segment objects (one
// partition each, committed data by construction: merging reads only committed extents)
// and flush objects (committed, or orphans: uploaded and never committed). fold chooses,
// offset by offset from the lowest one held, what serves each offset:
//
//   - a segment with a chunk starting exactly at the next offset, the one reaching
//     furthest (no copy needed: its etcd key is restored as it is);
//   - else a flush extent holding the next offset, of the highest leader epoch that is
//     not below the epoch already served (a higher epoch truncates a lower one, as Kafka
//     truncates a diverged follower; two objects of one epoch holding the same offsets
//     carry the same batches, a re-upload after a commit timeout);
//   - else a gap: the lowest offset any object holds past it starts the log again. A gap
//     is expected in a compacted topic (compaction removes records and keeps offsets). A
//     segment compaction wrote since format version 2 says so in its footer
//     (segment.FlagCompacted), and a gap before it is laid to compaction; for an older
//     segment, a gap inside it or before it is laid to compaction when the topic's
//     cleanup.policy includes compact, and reported as a problem otherwise. Either way
//     the data past a gap is restored.

// segCand is a segment object of the partition whose footer decoded.
type segCand struct {
	obj *Object
	ext []segment.Extent // its chunks, in offset order
}

// flushCand is one partition's extent of a flush object.
type flushCand struct {
	key    string
	footer *segment.Footer // of the object
	broker int32
	ext    segment.Extent
}

// piece is one run of the restored log: chunks [from..] of a segment, or a flush extent
// from offset from.
type piece struct {
	seg   *segCand // nil: a flush extent
	flush *flushCand
	from  int64 // first offset served by this piece
	last  int64
	// afterGap is set when offsets before from are held by no object.
	afterGap bool
	gapFrom  int64 // the first offset of that gap
}

// foldResult is a partition's restored log.
type foldResult struct {
	pieces []piece
	start  int64 // log start: the lowest offset held
	next   int64 // next offset: one past the highest
	empty  bool
}

func fold(segs []*segCand, flush []*flushCand) foldResult {
	var res foldResult
	lowest := int64(-1)
	for _, s := range segs {
		if b := s.ext[0].BaseOffset; lowest < 0 || b < lowest {
			lowest = b
		}
	}
	for _, f := range flush {
		if b := f.ext.BaseOffset; lowest < 0 || b < lowest {
			lowest = b
		}
	}
	if lowest < 0 {
		res.empty = true
		return res
	}
	sort.Slice(flush, func(i, j int) bool { return flush[i].key < flush[j].key })
	next, epoch := lowest, int32(-1)
	res.start = lowest
	afterGap, gapFrom := false, int64(0)
	for {
		if s := bestSegment(segs, next); s != nil {
			last := s.ext[len(s.ext)-1].LastOffset
			res.pieces = append(res.pieces, piece{seg: s, from: next, last: last, afterGap: afterGap, gapFrom: gapFrom})
			for _, c := range s.ext {
				epoch = max(epoch, c.LeaderEpoch)
			}
			next, afterGap = last+1, false
			continue
		}
		if f := bestFlush(flush, next, epoch); f != nil {
			res.pieces = append(res.pieces, piece{flush: f, from: next, last: f.ext.LastOffset, afterGap: afterGap, gapFrom: gapFrom})
			epoch = f.ext.LeaderEpoch
			next, afterGap = f.ext.LastOffset+1, false
			continue
		}
		// Nothing holds next: restart at the lowest offset past it, if any.
		resume := int64(-1)
		for _, s := range segs {
			for _, c := range s.ext {
				if c.BaseOffset > next && (resume < 0 || c.BaseOffset < resume) {
					resume = c.BaseOffset
				}
			}
		}
		for _, f := range flush {
			if f.ext.LeaderEpoch >= epoch && f.ext.BaseOffset > next && (resume < 0 || f.ext.BaseOffset < resume) {
				resume = f.ext.BaseOffset
			}
		}
		if resume < 0 {
			break
		}
		if !afterGap {
			gapFrom = next
		}
		next, afterGap = resume, true
	}
	res.next = next
	if afterGap { // the loop ended looking past a gap that nothing followed
		res.next = gapFrom
	}
	return res
}

// bestSegment returns the segment with a chunk starting at next that reaches furthest
// (the newest on a tie), or nil.
func bestSegment(segs []*segCand, next int64) *segCand {
	var best *segCand
	for _, s := range segs {
		aligned := false
		for _, c := range s.ext {
			if c.BaseOffset == next {
				aligned = true
				break
			}
		}
		if !aligned {
			continue
		}
		last := s.ext[len(s.ext)-1].LastOffset
		if best == nil || last > best.ext[len(best.ext)-1].LastOffset ||
			last == best.ext[len(best.ext)-1].LastOffset && s.obj.Key > best.obj.Key {
			best = s
		}
	}
	return best
}

// bestFlush returns the flush extent holding next at the highest leader epoch not below
// epoch, reaching furthest, or nil.
func bestFlush(flush []*flushCand, next int64, epoch int32) *flushCand {
	var best *flushCand
	for _, f := range flush {
		e := f.ext
		if e.BaseOffset > next || e.LastOffset < next || e.LeaderEpoch < epoch {
			continue
		}
		if best == nil || e.LeaderEpoch > best.ext.LeaderEpoch ||
			e.LeaderEpoch == best.ext.LeaderEpoch && e.LastOffset > best.ext.LastOffset {
			best = f
		}
	}
	return best
}

// gapsInside reports whether a segment's chunks skip offsets: BuildSegment never writes
// such a segment, so only log compaction did.
func gapsInside(ext []segment.Extent) bool {
	for i := 1; i < len(ext); i++ {
		if ext[i].BaseOffset != ext[i-1].LastOffset+1 {
			return true
		}
	}
	return false
}

// describe names a piece for a report.
func (p piece) describe() string {
	if p.seg != nil {
		return p.seg.obj.Key
	}
	return fmt.Sprintf("%s (epoch %d)", p.flush.key, p.flush.ext.LeaderEpoch)
}
