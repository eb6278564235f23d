package flush

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kafscale/kafscale/objstore"
)

// Hedged uploads. An acks=all produce waits for its flush object's PUT, and commits go in
// flush order, so one slow PUT holds up every acknowledgement behind it: the store's tail,
// not its median, sets the produce tail. AWS's advice for latency-sensitive S3 clients is to
// track the slowest requests and retry them aggressively ("Timeouts and Retries for
// Latency-Sensitive Applications"). A hedge is such a retry that leaves the first request
// running: when a flush object's PUT has not answered after the hedge delay, a second PUT of
// the same key and bytes starts, the first to succeed wins and the other is cancelled.
//
// What keeps DESIGN.md's guarantees: both PUTs carry the same bytes under the object's own
// key, written with If-None-Match, so whichever lands first is the object and the other
// either fails (ErrExists: the key holds those very bytes) or is cancelled; nothing
// different is ever stored under the key. The object is committed only after one of them
// succeeded. A cancelled loser that still lands at the store lands the same bytes (or is
// refused by If-None-Match); its bytes stay alive in memory until it returns (Go's GC).
//
// The delay is a quantile (Config.HedgeQuantile) of the latencies of recent first PUTs, so
// it follows the store: about 1 - q of the objects get a hedge, whatever the store's speed.
// When a hedge wins, the first PUT's latency is unknown but at least its elapsed time, which
// is past the delay; that time is what is recorded, so the slow requests hedging cuts short
// still count above the quantile instead of vanishing from the window and pulling the delay
// (and the hedge rate) down with them.

const (
	// hedgeWindow is how many recent first-PUT latencies the delay is taken from: at 10 PUTs
	// a second (flush.interval 100 ms) about 25 s of history.
	hedgeWindow = 256
	// hedgeMinSamples is how many latencies must be known before any PUT is hedged.
	hedgeMinSamples = 20
)

var (
	// uploadHedges counts second PUTs started for flush objects: the extra PUTs (and S3
	// request fees) hedging costs.
	uploadHedges = metrics.NewCounter(`kafscale_flush_upload_hedges_total`)
	// uploadHedgeWins counts hedges that succeeded before the first PUT.
	uploadHedgeWins = metrics.NewCounter(`kafscale_flush_upload_hedge_wins_total`)
	// hedgeDelaySeconds is the hedge delay last used.
	hedgeDelaySeconds = metrics.NewGauge(`kafscale_flush_upload_hedge_delay_seconds`, nil)
)

// hedger estimates the hedge delay from recent first-PUT latencies. Safe for concurrent use
// (uploads run on several goroutines).
type hedger struct {
	quantile float64
	minDelay time.Duration

	mu      sync.Mutex // guards the fields below
	window  [hedgeWindow]time.Duration
	n       int // samples recorded, at most hedgeWindow count
	next    int // where the next sample goes
	scratch []time.Duration
}

func newHedger(quantile float64, minDelay time.Duration) *hedger {
	return &hedger{quantile: quantile, minDelay: minDelay}
}

// observe records the latency (or, when a hedge won, the elapsed time) of a first PUT. A nil
// hedger (hedging off) records nothing.
func (h *hedger) observe(d time.Duration) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.window[h.next] = d
	h.next = (h.next + 1) % hedgeWindow
	h.n = min(h.n+1, hedgeWindow)
	h.mu.Unlock()
}

// delay returns how long a PUT may run before it is hedged, and false when it may not be
// hedged at all (hedging off, or too few latencies known yet).
func (h *hedger) delay() (time.Duration, bool) {
	if h == nil || h.quantile <= 0 {
		return 0, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n < hedgeMinSamples {
		return 0, false
	}
	h.scratch = append(h.scratch[:0], h.window[:h.n]...)
	slices.Sort(h.scratch)
	i := min(int(h.quantile*float64(h.n)), h.n-1)
	d := max(h.scratch[i], h.minDelay)
	hedgeDelaySeconds.Set(d.Seconds())
	return d, true
}

// putResult is the outcome of one PUT of a hedged upload.
type putResult struct {
	err   error
	hedge bool
}

// put makes one upload attempt of fl's object: one PUT, and a hedge of it when the first
// has not answered after the hedge delay. It returns nil once either succeeded, and an
// error only when every PUT it started failed.
func (f *Flusher) put(ctx context.Context, fl *Flush) error {
	// The PUTs read copies of what they need: a cancelled loser may still run after put
	// returns, when the committer writes fl.key and drops fl.parts.
	key, parts, size := fl.key, fl.parts, fl.size
	delay, hedge := f.hedger.delay()
	start := time.Now()
	if !hedge {
		err := f.putOnce(ctx, key, parts, size)
		if err == nil {
			f.hedger.observe(time.Since(start))
		} else {
			uploadErrors.Inc()
		}
		return err
	}
	// Returning cancels the loser, if any: it returns on its own, its answer not needed.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Room for both answers: the loser's goroutine never blocks after put returns.
	results := make(chan putResult, 2)
	launch := func(isHedge bool) {
		f.wg.Add(1) // the committer goroutine, still running, keeps the count above zero
		go func() {
			defer f.wg.Done()
			results <- putResult{f.putOnce(ctx, key, parts, size), isHedge}
		}()
	}
	launch(false)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	running := 1
	var errs []error
	for {
		select {
		case <-timer.C:
			running++
			uploadHedges.Inc()
			launch(true)
		case r := <-results:
			running--
			if r.err == nil {
				// The first PUT's latency, or when the hedge won, a lower bound of it.
				f.hedger.observe(time.Since(start))
				if r.hedge {
					uploadHedgeWins.Inc()
				}
				return nil
			}
			uploadErrors.Inc()
			errs = append(errs, r.err)
			if running == 0 {
				return errors.Join(errs...)
			}
		}
	}
}

// putOnce PUTs a flush object once.
func (f *Flusher) putOnce(ctx context.Context, key string, parts [][]byte, size int64) error {
	err := f.store.Put(ctx, key, parts, size)
	if errors.Is(err, objstore.ErrExists) {
		// Flush keys are unique to this incarnation and PUTs are atomic, so the key exists
		// only because another PUT of ours (a hedge, or an earlier, timed-out attempt)
		// landed whole, with these bytes.
		return nil
	}
	return err
}
