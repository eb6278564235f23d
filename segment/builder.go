package segment

import "slices"

// extentKey identifies one extent of an object. The leader epoch is part of it so a
// partition whose epoch changed within one flush gets two extents instead of a wrong one.
type extentKey struct {
	topicID     [16]byte
	partition   int32
	leaderEpoch int32
}

// pendingBatch is one added batch, kept in Add order until Finish groups them.
type pendingBatch struct {
	extent int32 // index into Builder.extents
	data   []byte
}

// Builder collects batch slices without copying them. Not safe for concurrent use.
//
// Finish groups the batches by partition; the returned parts alias both the added batches
// and the builder's own buffers, so they stay valid until Reset: a builder is reused only
// after the upload of its previous object has finished (overlapping uploads use one builder
// each).
type Builder struct {
	index   map[extentKey]int32
	extents []Extent // in first-Add order; Pos filled in by Finish
	batches []pendingBatch
	size    int64 // bytes of batches so far

	// Reused by Finish.
	parts  [][]byte
	next   []int // per extent: index in parts of its next batch
	footer []byte
}

// NewBuilder returns an empty Builder. The zero Builder is ready to use too.
func NewBuilder() *Builder { return &Builder{} }

// Add appends batch, holding offsets [baseOffset, lastOffset], to its partition's extent.
// Batches of one partition must be added in offset order. batch is not copied: it must stay
// unchanged until the object has been uploaded.
func (b *Builder) Add(topicID [16]byte, partition, leaderEpoch int32, batch []byte,
	baseOffset, lastOffset, maxTimestamp int64) {
	if b.index == nil {
		b.index = make(map[extentKey]int32)
	}
	k := extentKey{topicID: topicID, partition: partition, leaderEpoch: leaderEpoch}
	i, ok := b.index[k]
	if !ok {
		i = int32(len(b.extents))
		b.index[k] = i
		b.extents = append(b.extents, Extent{
			TopicID:      topicID,
			Partition:    partition,
			LeaderEpoch:  leaderEpoch,
			BaseOffset:   baseOffset,
			MaxTimestamp: maxTimestamp,
		})
	}
	e := &b.extents[i]
	e.LastOffset = lastOffset
	e.Len += int64(len(batch))
	e.Batches++
	e.MaxTimestamp = max(e.MaxTimestamp, maxTimestamp)
	b.batches = append(b.batches, pendingBatch{extent: i, data: batch})
	b.size += int64(len(batch))
}

// Len returns the bytes of batches added so far (the object will be larger by its footer).
func (b *Builder) Len() int64 { return b.size }

// NumExtents returns the number of extents (partition and leader epoch pairs) so far.
func (b *Builder) NumExtents() int { return len(b.extents) }

// Finish lays out partitions (in the order first added), appends footer+trailer and returns
// the object as parts (batch slices aliased, footer encoded), its total size and the extents
// with final Pos/Len. The footer's Extents slice is the caller's to keep; parts are valid
// until Reset or the next Finish. An empty builder yields a valid object with no extents.
func (b *Builder) Finish() (parts [][]byte, size int64, footer Footer) {
	b.next = slices.Grow(b.next[:0], len(b.extents))[:len(b.extents)]
	var pos int64
	var slot int
	for i := range b.extents {
		e := &b.extents[i]
		e.Pos = pos
		pos += e.Len
		b.next[i] = slot
		slot += int(e.Batches)
	}
	if pos != b.size || slot != len(b.batches) {
		panic("BUG: builder extents do not add up to its batches")
	}
	b.parts = slices.Grow(b.parts[:0], len(b.batches)+1)[:len(b.batches)+1]
	for _, pb := range b.batches {
		b.parts[b.next[pb.extent]] = pb.data
		b.next[pb.extent]++
	}
	b.footer = AppendFooter(b.footer[:0], b.extents)
	b.parts[len(b.batches)] = b.footer
	footer = Footer{
		Version:   FormatVersion,
		Extents:   slices.Clone(b.extents),
		FooterPos: b.size,
		FooterLen: int64(len(b.footer) - TrailerSize),
	}
	return b.parts, b.size + int64(len(b.footer)), footer
}

// Reset empties the builder for the next object, keeping its buffers. It drops the
// references to added batches so their buffers can be recycled.
func (b *Builder) Reset() {
	clear(b.index)
	b.extents = b.extents[:0]
	clear(b.batches)
	b.batches = b.batches[:0]
	clear(b.parts)
	b.parts = b.parts[:0]
	b.size = 0
}

// SetProducerState sets the producer-state delta of the extent of (topicID, partition,
// leaderEpoch), added before; it reports whether that extent exists.
func (b *Builder) SetProducerState(topicID [16]byte, partition, leaderEpoch int32, delta []byte) bool {
	i, ok := b.index[extentKey{topicID: topicID, partition: partition, leaderEpoch: leaderEpoch}]
	if ok {
		b.extents[i].ProducerState = delta
	}
	return ok
}
