package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramQuantilesWithinOnePercent: percentiles of the log-linear buckets are within
// 1% of the exact ones of the same sample.
func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]time.Duration, 100_000)
	for i := range vals {
		vals[i] = time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if d := float64(got-exact) / float64(exact); d < -0.01 || d > 0.01 {
			t.Errorf("q%.3f = %s, exact %s", q, got, exact)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
		t.Errorf("max %s count %d, want %s %d", h.Max(), h.Count(), vals[len(vals)-1], len(vals))
	}
}

// TestHistogramBucketsCoverEveryValue: bucketTop(bucketOf(v)) >= v and the bucket below ends
// under v, for small, boundary and huge values.
func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if i >= numBuckets || bucketTop(i) < v || (i > 0 && bucketTop(i-1) >= v) {
			t.Errorf("v=%d: bucket %d top %d, below %d", v, i, bucketTop(i), bucketTop(i-1))
		}
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if s := h.Summarize(); s != (Summary{}) {
		t.Fatalf("empty summary %+v", s)
	}
}
