package segment

import (
	"context"
	"testing"

	"github.com/kafscale/kafscale/objstore"
)

// BenchmarkCacheGetHit measures the hit path of Cache.Get, which serves fetches of old data.
func BenchmarkCacheGetHit(b *testing.B) {
	const n = 64 << 10
	data := testBatch(n, 1)
	c := newBenchCache(b, data)
	ctx := context.Background()
	if _, err := c.Get(ctx, "flush/1/00000000000000000001/01ARYZ6S410000000000000000", 0, n); err != nil {
		b.Fatal(err)
	}
	c.Wait()
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var got []byte
		for pb.Next() {
			got, _ = c.Get(ctx, "flush/1/00000000000000000001/01ARYZ6S410000000000000000", 0, n)
		}
		sinkBytes = got
	})
	if s := c.Stats(); s.Misses != 1 {
		b.Fatalf("%d misses; the benchmark must measure hits", s.Misses)
	}
}

// newBenchCache returns a cache over a local store holding data under one flush key.
func newBenchCache(b *testing.B, data []byte) *Cache {
	b.Helper()
	st, err := objstore.NewLocal(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	key := "flush/1/00000000000000000001/01ARYZ6S410000000000000000"
	if err := st.Put(context.Background(), key, [][]byte{data}, int64(len(data))); err != nil {
		b.Fatal(err)
	}
	c, err := NewCache(CacheConfig{}, st)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkCacheSequentialRead is a consumer reading an object's ranges in order through a
// full cache, each read with the next four ranges prefetched behind it, as a fetch's
// read-ahead does; loads/read is the store reads per range read (1 when nothing read ahead
// is thrown away).
func BenchmarkCacheSequentialRead(b *testing.B) {
	const rangeSize, ranges, budget = 64 << 10, 256, 2 << 20
	data := testBatch(rangeSize*ranges, 13)
	local, err := objstore.NewLocal(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := local.Put(context.Background(), "obj", [][]byte{data}, int64(len(data))); err != nil {
		b.Fatal(err)
	}
	st := &gatedStore{Store: local}
	c, err := NewCache(CacheConfig{CacheBytes: budget, ExpectedItemBytes: rangeSize}, st)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.SetBytes(rangeSize)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		for j := int64(1); j <= 4; j++ {
			c.Prefetch("obj", (i+j)%ranges*rangeSize, rangeSize)
		}
		if _, err := c.Get(ctx, "obj", i*rangeSize, rangeSize); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % ranges
	}
	b.ReportMetric(float64(st.calls.Load())/float64(b.N), "loads/read")
}
