package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSyncSmoke runs the synchronous-producer load for a few seconds against kafscale dev,
// kfake and the TCP sink: every target must acknowledge records, without errors, with
// ordered, plausible round-trip percentiles, and the report must print them.
func TestSyncSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kafscale dev")
	}
	cfg := DefaultConfig()
	cfg.Load = DefaultLoad()
	cfg.Sync, cfg.Consumers, cfg.RecordSize = 4, 0, DefaultSyncRecordSize
	cfg.Warmup, cfg.Duration, cfg.Drain = 500*time.Millisecond, 2*time.Second, 10*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	results, err := Run(ctx, t, cfg, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var report strings.Builder
	WriteReport(&report, cfg.Load, results)
	t.Logf("\n%s", report.String())
	if len(results) != 3 {
		t.Fatalf("%d results, want 3", len(results))
	}
	for _, r := range results {
		if r.Records <= 0 || r.RecordsPerS <= 0 {
			t.Errorf("%s: %d acks in the window, want > 0", r.Target, r.Records)
		}
		if r.ProduceErrs != 0 || r.FirstErr != "" {
			t.Errorf("%s: %d produce errors, first error %q", r.Target, r.ProduceErrs, r.FirstErr)
		}
		s := r.Ack
		if s.Count != uint64(r.Records) || s.P50 <= 0 || s.P50 > s.P90 || s.P90 > s.P99 || s.P99 > s.P999 || s.P999 > s.MaxDur || s.MaxDur > 10*time.Second {
			t.Errorf("%s: round trip percentiles not sane for %d acks: %+v", r.Target, r.Records, s)
		}
	}
	for _, want := range []string{"4 synchronous producers", "acks/s", "round trip ms p50/p90/p99/p99.9/max", "acks/s, row / column"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestSyncRefusesAsyncSettings: a sync load with a setting of the asynchronous load, or a
// record its client cannot buffer, does not run, and the error names the kbench flag.
func TestSyncRefusesAsyncSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     func(*Load)
		wantErr string
	}{
		{"negative", func(l *Load) { l.Sync = -1 }, "-sync must be >= 0"},
		{"rate", func(l *Load) { l.Rate = 100 }, "drop -rate (set to 100)"},
		{"consumers", func(l *Load) { l.Consumers = 1 }, "drop -consumers (set to 1)"},
		{"linger", func(l *Load) { l.Linger = time.Millisecond }, "drop -linger (set to 1ms)"},
		{"record larger than the buffer", func(l *Load) { l.RecordSize = SyncBufferedBytes + 1 }, "-record-size must be <= 5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := DefaultLoad()
			l.Sync, l.Consumers, l.RecordSize = 50, 0, DefaultSyncRecordSize
			if err := l.Validate(); err != nil {
				t.Fatalf("sync load: %v", err)
			}
			tc.set(&l)
			if err := l.Validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
