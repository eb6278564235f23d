// Package quota holds client quotas: the stored settings and Kafka's order of precedence
// among them (Set), and the rate accounting that turns a client's traffic into a throttle
// time (Tracker). It knows nothing of connections or the protocol: the broker asks it how
// long to throttle a request and does the throttling.
package quota

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Default window settings, as Kafka's quota.window.num and quota.window.size.seconds.
const (
	DefaultSamples = 11
	DefaultWindow  = time.Second
)

// Tracker measures the byte rate of each quota key (a user, a client id, or both, as the
// matching quota says; see Set.Resolve) over Samples windows and says how long a request
// that takes a key over its quota is throttled. It is safe for concurrent use.
type Tracker struct {
	samples int
	window  time.Duration
	// maxThrottle bounds one throttle: the whole span by default, one window for the
	// request quota (SetMaxThrottle). Set before use.
	maxThrottle time.Duration

	mu    sync.Mutex
	rates map[Key]*rate
	// swept is when idle rates were last dropped.
	swept time.Time
}

// NewTracker returns a Tracker measuring over samples windows of window each.
func NewTracker(samples int, window time.Duration) (*Tracker, error) {
	if samples < 2 {
		return nil, fmt.Errorf("--quota-window-num must be >=2 (set to %d)", samples)
	}
	if window <= 0 {
		return nil, fmt.Errorf("--quota-window-size must be >0 (set to %s)", window)
	}
	return &Tracker{samples: samples, window: window, maxThrottle: time.Duration(samples) * window, rates: make(map[Key]*rate)}, nil
}

// SetMaxThrottle bounds the throttle of one request to d instead of the whole measured
// span; Kafka bounds its request quota's throttle to one window
// (ClientRequestQuotaManager's maxThrottleTimeMs), so that a request that took a long
// time does not silence its client for many windows. Call it before the Tracker is used.
func (t *Tracker) SetMaxThrottle(d time.Duration) { t.maxThrottle = d }

// Record adds n units (bytes, or nanoseconds of handler time) to k's rate at now and
// returns how long the request is throttled: zero while the rate is within limit (units
// per second), else the time it takes the rate, at zero traffic, to come back to limit
// ((rate - limit) / limit × the measured window, Kafka's QuotaUtils.throttleTime), at
// most the whole measured span (samples × window) or what SetMaxThrottle set, so that one
// huge request does not silence a client for minutes.
func (t *Tracker) Record(k Key, n int64, limit float64, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(now)
	r := t.rates[k]
	if r == nil {
		r = newRate(t.samples)
		t.rates[k] = r
	}
	r.record(float64(n), now, t.window)
	if limit <= 0 || math.IsInf(limit, 1) {
		return 0
	}
	total, over := r.measure(now, t.window)
	observed := total / over.Seconds()
	if observed <= limit {
		return 0
	}
	d := time.Duration((observed - limit) / limit * float64(over))
	return min(d, t.maxThrottle)
}

// Len returns the number of keys measured (idle ones not yet dropped included).
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.rates)
}

// sweepLocked drops the rates of keys idle for the whole measured span (their samples
// no longer count), at most once per window, so that memory follows the clients active
// now rather than every client id ever seen. Lock must be held.
func (t *Tracker) sweepLocked(now time.Time) {
	if now.Sub(t.swept) < t.window {
		return
	}
	t.swept = now
	span := time.Duration(t.samples) * t.window
	for k, r := range t.rates {
		if now.Sub(r.last) >= span {
			delete(t.rates, k)
		}
	}
}

// Unrecord takes back n units recorded for k at now, for a request that was throttled
// and answered without what it measured (a fetch answered without data, as Kafka's
// unrecordQuotaSensor), so that bytes never sent do not count against the client.
func (t *Tracker) Unrecord(k Key, n int64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.rates[k]; r != nil {
		r.record(-float64(n), now, t.window)
	}
}
