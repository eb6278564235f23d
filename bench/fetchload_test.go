package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestFetchSmoke runs the consume-only load (kbench -fill) against kafscale dev with
// -profile: its consumer must read records in the window without errors, and not all of
// them (the fill is several times what it reads in the window), the broker's CPU per GB
// read must be measured, and the window's CPU and allocation profiles must be written
// (gzipped pprof, the CPU one naming the broker's binary). kfake is left out: in this process it
// reads far faster than it fills while the producers share its CPU, so no fixed window
// stays short of the end on every machine.
func TestFetchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kafscale dev")
	}
	cfg := DefaultConfig()
	cfg.Targets = []string{TargetKafscale}
	dir := t.TempDir()
	cfg.ProfileDir = dir
	cfg.Load = Load{
		Producers: 1, Consumers: 1, RecordSize: 1024, Partitions: 4,
		Acks: "all", Codec: "none", Idempotent: true, Fill: 3 * time.Second,
		Warmup: 300 * time.Millisecond, Duration: 300 * time.Millisecond, Drain: 30 * time.Second,
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
	for _, r := range results {
		if r.Records <= 0 || r.ProduceErrs != 0 || r.FirstErr != "" {
			t.Errorf("%s: filled %d records, %d produce errors, first error %q", r.Target, r.Records, r.ProduceErrs, r.FirstErr)
		}
		if r.Consumed <= 0 || r.Consumed >= r.Records || r.ConsumedPerS <= 0 || r.ConsumedMBPerS <= 0 {
			t.Errorf("%s: read %d of %d records in the window (%.0f/s, %.1f MB/s); want some, not all", r.Target, r.Consumed, r.Records, r.ConsumedPerS, r.ConsumedMBPerS)
		}
	}
	if k := results[0]; !(k.CPUSecPerGB > 0) {
		t.Errorf("kafscale-dev: broker CPU per GB read = %v, want > 0", k.CPUSecPerGB)
	}
	for _, name := range []string{"kafscale-dev-cpu.pprof", "kafscale-dev-allocs.pprof"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s is not a gzipped profile: %v", name, err)
		}
		pb, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// A CPU profile names the binary it was taken of in its mappings; a sub-second
		// window may hold no allocation sample, and then no mapping either.
		if bin := testbroker.Binary(t); strings.HasSuffix(name, "-cpu.pprof") && !bytes.Contains(pb, []byte(bin)) {
			t.Errorf("%s (%d bytes) does not name the broker's binary %s: not the broker's profile", name, len(pb), bin)
		}
	}
	for _, want := range []string{"consume only", "consumed rec/s", "consumed MB/s"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestFetchRefusesOtherLoads: the consume-only load does not run with a setting it cannot
// honour, and the error names the kbench flag.
func TestFetchRefusesOtherLoads(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     func(*Config)
		wantErr string
	}{
		{"negative", func(c *Config) { c.Fill = -time.Second }, "-fill must be >= 0"},
		{"sync", func(c *Config) { c.Sync = 4 }, "drop one"},
		{"no consumers", func(c *Config) { c.Consumers = 0 }, "-consumers must be >= 1"},
		{"acks=0", func(c *Config) { c.Acks, c.Idempotent = "0", false }, "-acks must be 1 or all"},
		{"tcp-sink", func(c *Config) { c.Targets = []string{TargetSink} }, "tcp-sink target keeps nothing"},
		{"profile of kfake", func(c *Config) { c.Targets, c.ProfileDir = []string{TargetKfake}, "/tmp/x" }, "serves no Go profiles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Targets = []string{TargetKafscale}
			c.Fill = time.Second
			if err := c.Validate(); err != nil {
				t.Fatalf("consume-only load: %v", err)
			}
			tc.set(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
