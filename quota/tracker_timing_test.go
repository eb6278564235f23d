package quota

import (
	"testing"
	"time"
)

var sinkThrottle time.Duration

// BenchmarkTrackerRecord is the cost a quota adds to each request it applies to: one
// Record of a request's handler time (or bytes) on a key under its quota.
func BenchmarkTrackerRecord(b *testing.B) {
	tr, _ := NewTracker(DefaultSamples, DefaultWindow)
	k := Key{HasClientID: true, ClientID: "app"}
	now := time.Unix(1000, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// 50 µs of handler time every 100 µs against 1% (10 ms per second): over the quota
		// once the burst is spent, so the throttle arithmetic runs too.
		sinkThrottle = tr.Record(k, 50_000, 1e7, now.Add(time.Duration(i)*100*time.Microsecond))
	}
}
