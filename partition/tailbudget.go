package partition

import (
	"container/list"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// tailBytesAll is every tail of the process together, for kafscale_tail_bytes.
var tailBytesAll atomic.Int64

func init() {
	metrics.NewGauge(`kafscale_tail_bytes`, func() float64 { return float64(tailBytesAll.Load()) })
}

// TailBudget bounds the in-memory tails of all the Logs of a broker together
// (--tail-total-bytes): --tail-bytes alone bounds one partition, so 10,000 partitions
// written to could hold 10 GiB. A tail holds only committed batches, already in the object
// store, so dropping any of them is always safe: a fetch there reads the objects instead.
//
// When a commit takes the total over the budget, the committing Log sheds, after releasing
// its own lock, the oldest batches of the least recently committed Logs first (those whose
// newest tail batch is oldest), until the total is back within the budget. Each Log's
// commit sheds what it added, so the total never stays over the budget once a commit
// returns, and the partitions being written keep their tails for consumers reading at
// the end.
//
// Lock order: Log.mu -> TailBudget.mu. Shedding never holds TailBudget.mu while taking a
// Log's lock, nor two Logs' locks at once: it picks the victim, releases TailBudget.mu,
// then locks the victim.
type TailBudget struct {
	limit int64
	total atomic.Int64
	mu    sync.Mutex
	lru   list.List // *Log with a non-empty tail, least recently committed first; guarded by mu
}

// NewTailBudget returns a budget of limit bytes shared by the Logs given it in their
// Config; 0 keeps no tails at all.
func NewTailBudget(limit int64) (*TailBudget, error) {
	if limit < 0 {
		return nil, fmt.Errorf("--tail-total-bytes must be >=0 (set to %d)", limit)
	}
	return &TailBudget{limit: limit}, nil
}

// Bytes returns the bytes the tails under this budget hold now.
func (b *TailBudget) Bytes() int64 { return b.total.Load() }

// touch marks l as the most recently committed Log. Called with l.mu held and a non-empty
// tail.
func (b *TailBudget) touch(l *Log) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l.lruElem == nil {
		l.lruElem = b.lru.PushBack(l)
	} else {
		b.lru.MoveToBack(l.lruElem)
	}
}

// forget removes l, whose tail is now empty, from the order. Called with l.mu held.
func (b *TailBudget) forget(l *Log) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l.lruElem != nil {
		b.lru.Remove(l.lruElem)
		l.lruElem = nil
	}
}

// shed drops tail batches of the least recently committed Logs while the total is over
// the budget. Called with no Log's lock held. Every pass drops a batch or forgets an empty
// Log, so it ends; it stops early when no Log is listed, which happens only while another
// commit has added to the total and not yet listed its Log: that commit sheds next.
func (b *TailBudget) shed() {
	for b.total.Load() > b.limit {
		b.mu.Lock()
		e := b.lru.Front()
		b.mu.Unlock()
		if e == nil {
			return
		}
		e.Value.(*Log).shedTail(b)
	}
}
