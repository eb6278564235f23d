// Package ratelog bounds log lines that clients can cause at will (a connection closed on
// a bad request, a reset): one line per event until Burst lines were written in a window,
// then none until the window ends; the first line after it says how many were left out
// (suppressed=N), and kafscale_log_lines_suppressed_total{log} counts them as they happen.
package ratelog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Limiter lets at most Burst lines through per window. Safe from any goroutine.
type Limiter struct {
	burst  int
	window time.Duration
	now    func() time.Time // time.Now; tests replace it

	mu         sync.Mutex // guards the fields below
	start      time.Time  // of the current window
	written    int        // lines written in it
	suppressed int        // lines left out since the last line written

	dropped *metrics.Counter
}

// New returns a limiter of burst lines per window, its suppressed lines counted as
// kafscale_log_lines_suppressed_total{log=name} (shared by the limiters of one name).
func New(name string, burst int, window time.Duration) *Limiter {
	if burst <= 0 || window <= 0 {
		panic(fmt.Sprintf("BUG: ratelog.New(%q, %d, %s): burst and window must be >0", name, burst, window))
	}
	return &Limiter{burst: burst, window: window, now: time.Now,
		dropped: metrics.GetOrCreateCounter(fmt.Sprintf(`kafscale_log_lines_suppressed_total{log=%q}`, name))}
}

// allow reports whether a line may be written now, and how many were left out before it.
func (l *Limiter) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.start) >= l.window {
		l.start, l.written = now, 0
	}
	if l.written >= l.burst {
		l.suppressed++
		l.dropped.Inc()
		return false, 0
	}
	l.written++
	n := l.suppressed
	l.suppressed = 0
	return true, n
}

// Log writes msg with args to log at level, unless the limit is reached.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, msg string, args ...any) {
	if !log.Enabled(context.Background(), level) {
		return
	}
	ok, suppressed := l.allow()
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	log.Log(context.Background(), level, msg, args...)
}
