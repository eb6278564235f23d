package partition

// The leader-epoch history answers OffsetForLeaderEpoch (KIP-320) with the rules of
// Kafka's LeaderEpochFileCache: an entry per leader epoch that wrote to the log, with the
// offset where it began; a new leadership adds its entry at the log end when it takes the
// partition over, and answers for epoch E with the largest known epoch <= E and where it
// ended.

import "sort"

// EpochStart is one entry of a partition's leader-epoch history: the first offset of the
// log written at a leader epoch.
type EpochStart struct {
	Epoch       int32
	StartOffset int64
}

// MaxEpochHistory bounds the entries a partition keeps (and its checkpoint carries, about
// 12 bytes each). Kafka bounds its history only by retention; a KafScale partition may
// keep its log forever while its leadership moves on every failover, rebalance and drain,
// and its checkpoint is rewritten at each takeover and every checkpoint interval. Only a
// leadership that wrote records keeps an entry (the next one replaces it otherwise), so 64
// covers 64 leaderships with data. An epoch dropped from the front is answered as any
// epoch older than the history: with the start of the oldest entry kept, an end offset at
// or after its true end, which never makes a consumer see a truncation that did not
// happen (KafScale never truncates committed records).
const MaxEpochHistory = 64

// UndefinedEpoch and UndefinedEpochOffset are Kafka's UNDEFINED_EPOCH and
// UNDEFINED_EPOCH_OFFSET: the answer for the undefined epoch -1 and for an epoch newer
// than any this partition knows.
const (
	UndefinedEpoch       int32 = -1
	UndefinedEpochOffset int64 = -1
)

// epochHistory is a leader-epoch history, oldest first: epochs and start offsets both
// strictly increasing.
type epochHistory []EpochStart

// assign records that epoch e.Epoch begins at e.StartOffset, as Kafka's assign does: a
// no-op when the latest entry is that epoch starting at or before it; otherwise every
// entry at the end with an epoch or start offset not below the new one's is removed (an
// epoch whose leadership wrote nothing before the next began, or entries a newer
// leadership superseded), the entry appended, and the oldest dropped past
// MaxEpochHistory. Invalid entries (negative epoch or offset) are ignored.
func (h epochHistory) assign(e EpochStart) epochHistory {
	if e.Epoch < 0 || e.StartOffset < 0 {
		return h
	}
	if n := len(h); n > 0 && h[n-1].Epoch == e.Epoch && h[n-1].StartOffset <= e.StartOffset {
		return h
	}
	for len(h) > 0 && (h[len(h)-1].Epoch >= e.Epoch || h[len(h)-1].StartOffset >= e.StartOffset) {
		h = h[:len(h)-1]
	}
	h = append(h, e)
	if len(h) > MaxEpochHistory {
		h = append(h[:0:0], h[len(h)-MaxEpochHistory:]...)
	}
	return h
}

// truncateStart drops the entries below the log start, as Kafka's truncateFromStart does:
// the entries starting at or below logStart are removed and the last of them, the epoch
// the log start was written at, is kept starting at logStart.
func (h epochHistory) truncateStart(logStart int64) epochHistory {
	i := sort.Search(len(h), func(i int) bool { return h[i].StartOffset > logStart })
	if i == 0 {
		return h
	}
	out := append(h[:0:0], EpochStart{Epoch: h[i-1].Epoch, StartOffset: logStart})
	return append(out, h[i:]...)
}

// endOffsetFor answers OffsetForLeaderEpoch for epoch, the log ending at logEnd, as
// Kafka's endOffsetFor does: the largest known epoch <= epoch and its end offset, which is
// the start of the next known epoch, or logEnd for the latest. An epoch older than every
// known one is answered with itself and the start of the oldest known epoch (it ended no
// later). The undefined epoch, an epoch newer than every known one and an empty history
// get (UndefinedEpoch, UndefinedEpochOffset).
func (h epochHistory) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	switch {
	case epoch == UndefinedEpoch || len(h) == 0:
		return UndefinedEpoch, UndefinedEpochOffset
	case epoch == h[len(h)-1].Epoch:
		return epoch, logEnd
	}
	next := sort.Search(len(h), func(i int) bool { return h[i].Epoch > epoch })
	switch next {
	case len(h):
		return UndefinedEpoch, UndefinedEpochOffset
	case 0:
		return epoch, h[0].StartOffset
	}
	return h[next-1].Epoch, h[next].StartOffset
}
