package flush

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// The bench issue asks for the append path as a lock-free ring against a mutex version,
// keeping the ring only if it wins. Flusher.Append is the mutex version. The ring below is
// the candidate, kept here with its benchmark because it did not win (docs/benchmarks.md,
// "Append: lock-free ring against the mutex"). Both benchmarks hand the same entry to a
// consumer goroutine that groups entries by partition as a cut does, from GOMAXPROCS
// appending goroutines, one partition each.

// ringEntry is what an appender hands over: the partition and the batch.
type ringEntry struct {
	sink Sink
	id   PartitionID
	b    Batch
}

// mpscRing is a bounded multi-producer, single-consumer ring after Dmitry Vyukov's
// bounded queue: a producer claims a slot by advancing tail with a compare-and-swap and
// publishes it through the slot's sequence number; the consumer alone moves head.
type mpscRing struct {
	mask  uint64
	slots []ringSlot
	_     [56]byte // keep tail off the slots' and head's cache lines
	tail  atomic.Uint64
	_     [56]byte
	head  uint64 // consumer only
}

type ringSlot struct {
	seq atomic.Uint64
	e   ringEntry
}

func newMPSCRing(size int) *mpscRing {
	r := &mpscRing{mask: uint64(size - 1), slots: make([]ringSlot, size)}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// push reports false when the ring is full.
func (r *mpscRing) push(e ringEntry) bool {
	for {
		t := r.tail.Load()
		s := &r.slots[t&r.mask]
		switch seq := s.seq.Load(); {
		case seq == t:
			if r.tail.CompareAndSwap(t, t+1) {
				s.e = e
				s.seq.Store(t + 1)
				return true
			}
		case seq < t:
			return false
		}
	}
}

func (r *mpscRing) pop() (ringEntry, bool) {
	s := &r.slots[r.head&r.mask]
	if s.seq.Load() != r.head+1 {
		return ringEntry{}, false
	}
	e := s.e
	s.e = ringEntry{}
	s.seq.Store(r.head + r.mask + 1)
	r.head++
	return e, true
}

// mutexQueue is the same hand-over with a mutex: appenders append to a slice, the
// consumer swaps it for an empty one.
type mutexQueue struct {
	mu sync.Mutex
	q  []ringEntry
}

func (m *mutexQueue) push(e ringEntry) {
	m.mu.Lock()
	m.q = append(m.q, e)
	m.mu.Unlock()
}

func (m *mutexQueue) swap(spare []ringEntry) []ringEntry {
	m.mu.Lock()
	q := m.q
	m.q = spare[:0]
	m.mu.Unlock()
	return q
}

// grouper is the consumer's work per entry: find the partition's group, add the batch.
type grouper struct {
	index  map[Sink]int
	groups [][]Batch
	n      int
}

func (g *grouper) add(e ringEntry) {
	i, ok := g.index[e.sink]
	if !ok {
		i = len(g.groups)
		g.index[e.sink] = i
		g.groups = append(g.groups, nil)
	}
	g.groups[i] = append(g.groups[i], e.b)
	if g.n++; g.n == 4096 { // a cut: start the next flush with empty groups
		clear(g.index)
		g.groups, g.n = g.groups[:0], 0
	}
}

func BenchmarkHandOverRing(b *testing.B) {
	r := newMPSCRing(1 << 12)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		g := &grouper{index: map[Sink]int{}}
		for {
			e, ok := r.pop()
			if ok {
				g.add(e)
				continue
			}
			if stop.Load() {
				return
			}
			runtime.Gosched()
		}
	}()
	benchHandOver(b, func(e ringEntry) {
		for !r.push(e) {
			runtime.Gosched()
		}
	})
	stop.Store(true)
	<-done
}

func BenchmarkHandOverMutex(b *testing.B) {
	m := &mutexQueue{}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		g := &grouper{index: map[Sink]int{}}
		var spare []ringEntry
		for {
			q := m.swap(spare)
			for _, e := range q {
				g.add(e)
			}
			spare = q
			if len(q) == 0 {
				if stop.Load() {
					return
				}
				runtime.Gosched()
			}
		}
	}()
	benchHandOver(b, m.push)
	stop.Store(true)
	<-done
}

func benchHandOver(b *testing.B, push func(ringEntry)) {
	var next atomic.Int32
	data := make([]byte, 1<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.RunParallel(func(pb *testing.PB) {
		e := ringEntry{sink: &nopSink{}, id: partitionID(1, next.Add(1), 0), b: Batch{Data: data}}
		for pb.Next() {
			e.b.BaseOffset++
			push(e)
		}
	})
}
