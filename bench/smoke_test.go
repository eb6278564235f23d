package bench

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the harness for a few seconds against kafscale dev, kfake and the TCP sink,
// so that it cannot rot unnoticed: every target must produce and consume everything at the
// paced rate, with ordered, plausible percentiles, and kafscale's broker figures must be read.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kafscale dev")
	}
	cfg := DefaultConfig()
	cfg.Load = Load{
		Producers: 1, Consumers: 1, Rate: 2000, RecordSize: 256, Partitions: 4,
		Acks: "all", Codec: "none", Idempotent: true, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second,
		Drain: 10 * time.Second,
	}
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
		// Paced at 2,000 records/s; allow for a slow, shared machine.
		if r.RecordsPerS < 1000 || r.RecordsPerS > 2500 || r.MBPerS <= 0 {
			t.Errorf("%s: %.0f records/s, %.2f MB/s; want about 2000 records/s", r.Target, r.RecordsPerS, r.MBPerS)
		}
		if r.ProduceErrs != 0 || r.Missing != 0 || r.FirstErr != "" {
			t.Errorf("%s: %d produce errors, %d missing, first error %q", r.Target, r.ProduceErrs, r.Missing, r.FirstErr)
		}
		if r.Consumed != r.Records {
			t.Errorf("%s: consumed %d of %d records sent in the window", r.Target, r.Consumed, r.Records)
		}
		for name, s := range map[string]Summary{"ack": r.Ack, "e2e": r.E2E} {
			if s.Count == 0 || s.P50 <= 0 || s.P50 > s.P90 || s.P90 > s.P99 || s.P99 > s.P999 || s.P999 > s.MaxDur || s.MaxDur > 10*time.Second {
				t.Errorf("%s: %s percentiles not sane: %+v", r.Target, name, s)
			}
		}
	}
	k := results[0]
	for name, v := range map[string]float64{"CPU s/GB": k.CPUSecPerGB, "PUT/s": k.PutsPerS, "etcd commits/s": k.EtcdCommitsPerS, "etcd writes/s": k.EtcdWritesPerS} {
		if math.IsNaN(v) || v <= 0 {
			t.Errorf("kafscale-dev: %s = %v, want > 0", name, v)
		}
	}
	if k.MaxRSSBytes <= 0 {
		t.Errorf("kafscale-dev: no RSS read")
	}
	WriteReport(io.Discard, cfg.Load, nil)
}

// TestCommandTBTurnsFatalIntoError: kbench's testing.TB stops a helper's Fatal at Guard and
// runs cleanups on Close.
func TestCommandTBTurnsFatalIntoError(t *testing.T) {
	tb := NewCommandTB(io.Discard)
	cleaned := false
	err := tb.Guard(func() error {
		tb.Cleanup(func() { cleaned = true })
		tb.Fatalf("boom %d", 1)
		return nil
	})
	if err == nil || err.Error() != "boom 1" || !tb.Failed() {
		t.Fatalf("Guard = %v, failed %v", err, tb.Failed())
	}
	tb.Close()
	if !cleaned {
		t.Fatal("cleanup did not run")
	}
}

// TestKafkaTargetSmoke runs the harness for two seconds against Apache Kafka (the kafka
// target: one KRaft node from the test deps, its own process), so that the side-by-side
// comparison of issue 20 cannot rot: every record produced and consumed at the paced rate,
// and the node's CPU and RSS read from its process.
func TestKafkaTargetSmoke(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Targets = []string{TargetKafka}
	cfg.Load = Load{
		Producers: 1, Consumers: 1, Rate: 2000, RecordSize: 256, Partitions: 4,
		Acks: "all", Codec: "none", Idempotent: true, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second,
		Drain: 10 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	results, err := Run(ctx, t, cfg, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	r := results[0]
	if r.RecordsPerS < 1000 || r.RecordsPerS > 2500 || r.ProduceErrs != 0 || r.Missing != 0 || r.Consumed != r.Records {
		t.Errorf("kafka: %.0f records/s, %d errors, %d missing, %d of %d consumed", r.RecordsPerS, r.ProduceErrs, r.Missing, r.Consumed, r.Records)
	}
	if math.IsNaN(r.CPUPercent) || r.CPUPercent <= 0 || r.MaxRSSBytes <= 0 {
		t.Errorf("kafka: broker CPU %v%%, RSS %v bytes; want both read from its process", r.CPUPercent, r.MaxRSSBytes)
	}
}
