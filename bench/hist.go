package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts durations in log-linear buckets, HdrHistogram's layout: values below
// 2*subBuckets nanoseconds are exact, above that each power of two is split into subBuckets
// buckets, so a reported percentile is within 1/subBuckets (0.8%) of the true value. Record
// is lock-free and safe from any goroutine; the zero value is ready to use.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits // buckets per power of two
	// Shifts go up to 63-subBits for a 64-bit value.
	numBuckets = (64-subBits)*subBuckets + 2*subBuckets
)

// bucketOf maps a value to its bucket: v itself below 2*subBuckets, else shift*subBuckets + m
// where m = v>>shift has subBits+1 significant bits.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - (subBits + 1)
	return shift*subBuckets + int(v>>shift)
}

// bucketTop is the largest value that maps to bucket i.
func bucketTop(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	m := uint64(i - shift*subBuckets)
	return (m+1)<<shift - 1
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))].Add(1)
	h.n.Add(1)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the smallest bucket bound below which a fraction q of the observations
// lie (clipped to the maximum seen); 0 if there are none.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketTop(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Max returns the largest observation.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Summary is a histogram's percentiles, as reported.
type Summary struct {
	Count                       uint64
	P50, P90, P99, P999, MaxDur time.Duration
}

// Summarize returns h's percentiles.
func (h *Histogram) Summarize() Summary {
	return Summary{
		Count: h.Count(),
		P50:   h.Quantile(0.50), P90: h.Quantile(0.90), P99: h.Quantile(0.99),
		P999: h.Quantile(0.999), MaxDur: h.Max(),
	}
}
