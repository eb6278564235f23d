package flush

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/kafscale/kafscale/segment"
)

// benchFlush keeps the compiler from dropping Append results.
var benchFlush *Flush

// nopSink ignores outcomes. It is not zero-sized, so each *nopSink is a distinct partition.
type nopSink struct{ _ byte }

func (*nopSink) Committed(string, uint64, segment.Extent, []Batch) {}
func (*nopSink) Failed([]Batch, error)                             {}

// nopCommitter commits everything at once.
type nopCommitter struct{}

func (nopCommitter) Commit(_ context.Context, _ uint64, o Object) (Committed, error) {
	return Committed{Key: o.Key}, nil
}

// benchFlusher uses the defaults with an in-memory store that keeps no data.
func benchFlusher(b *testing.B) *Flusher {
	cfg := DefaultConfig()
	cfg.BufferBytes = 64 << 20
	return newTestFlusher(b, cfg, newMemStore(true), nopCommitter{})
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			f := benchFlusher(b)
			s := &nopSink{}
			id := partitionID(1, 0, 0)
			data := make([]byte, size)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var off int64
			for b.Loop() {
				if err := f.Reserve(ctx, int64(size)); err != nil {
					b.Fatal(err)
				}
				benchFlush = f.Append(s, id, Batch{Data: data, BaseOffset: off, LastOffset: off})
				off++
			}
		})
	}
}

// BenchmarkAppendParallel appends from GOMAXPROCS goroutines, one partition each.
func BenchmarkAppendParallel(b *testing.B) {
	const size = 1 << 10
	f := benchFlusher(b)
	data := make([]byte, size)
	var next atomic.Int32
	b.ReportAllocs()
	b.SetBytes(size)
	b.RunParallel(func(pb *testing.PB) {
		s := &nopSink{}
		id := partitionID(1, next.Add(1), 0)
		ctx := context.Background()
		var off int64
		for pb.Next() {
			if err := f.Reserve(ctx, size); err != nil {
				b.Error(err)
				return
			}
			f.Append(s, id, Batch{Data: data, BaseOffset: off, LastOffset: off})
			off++
		}
	})
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
