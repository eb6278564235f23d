package quota

import "time"

// rate is Kafka's sampled Rate (org.apache.kafka.common.metrics.stats.Rate over a
// SampledStat): a ring of samples, each summing what was recorded during one window; a
// sample older than the whole ring (samples × window) no longer counts. Not safe for
// concurrent use (Tracker guards it).
type rate struct {
	samples []sample
	cur     int
	// last is when a value was last recorded, for expiry.
	last time.Time
}

type sample struct {
	start time.Time // zero: unused
	total float64
}

func newRate(n int) *rate { return &rate{samples: make([]sample, n)} }

// record adds v at now: a new sample starts when the current one is a window old.
func (r *rate) record(v float64, now time.Time, window time.Duration) {
	s := &r.samples[r.cur]
	if s.start.IsZero() || now.Sub(s.start) >= window {
		r.cur = (r.cur + 1) % len(r.samples)
		r.samples[r.cur] = sample{start: now}
	}
	r.samples[r.cur].total += v
	r.last = now
}

// measure returns the total of the live samples and the window it is spread over. As
// Kafka, the window is at least samples-1 full windows long: a client that just started
// is not measured over a few milliseconds (which would throttle it for its first
// request), and it may spend that much of its quota at once.
func (r *rate) measure(now time.Time, window time.Duration) (total float64, over time.Duration) {
	n := len(r.samples)
	ring := time.Duration(n) * window
	var oldest time.Time
	for i := range r.samples {
		s := &r.samples[i]
		if s.start.IsZero() {
			continue
		}
		if now.Sub(s.start) >= ring {
			*s = sample{}
			continue
		}
		total += s.total
		if oldest.IsZero() || s.start.Before(oldest) {
			oldest = s.start
		}
	}
	if oldest.IsZero() {
		oldest = now
	}
	over = now.Sub(oldest)
	if full := int(over / window); full < n-1 {
		over += time.Duration(n-1-full) * window
	}
	return total, over
}
