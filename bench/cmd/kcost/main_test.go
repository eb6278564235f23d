package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFlagsRefuseBadValues: each refused value gets an error naming its flag.
func TestFlagsRefuseBadValues(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-backend", "s3"}, "-backend must be local, s3sim or minio"},
		{[]string{"-scale", "0.5"}, "-scale must be at least 1"},
		{[]string{"-rate", "10"}, "-rate must be at least 1024"},
		{[]string{"-policies", "delete;keep"}, `unknown cleanup.policy "keep"`},
		{[]string{"-keys", "5", "-scale", "10"}, "-keys must be at least -scale"},
		{[]string{"-partitions", "0"}, "-partitions must be in [1, 10000]"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := parseFlags(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}
}

// TestScaleDividesEveryLifecycleSetting: at scale 12 the retention, warm-up and window are
// a twelfth of the real ones, each lifecycle flag a twelfth of the broker's default, and
// the flush interval is kept.
func TestScaleDividesEveryLifecycleSetting(t *testing.T) {
	cfg, err := parseFlags([]string{"-scale", "12"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete", "compact,delete"}; !slices.Equal(cfg.policies, want) {
		t.Errorf("policies = %q; want %q", cfg.policies, want)
	}
	if cfg.window != 5*time.Minute {
		t.Errorf("window = %s; want 5m (one hour / 12)", cfg.window)
	}
	want := map[string]string{
		"--flush-interval": "100ms", "--merge-age": "10s", "--gc-interval": "5s", "--gc-grace": "50s",
		"--flush-attempt-timeout": "2.5s", "--retention-check-interval": "25s", "--checkpoint-interval": "2.5s",
		"--merge-bytes": "5592405", "--merge-chunk-bytes": "87381", "--compaction-buffer-bytes": "2796202",
	}
	for i := 0; i+1 < len(cfg.brokerFlags); i += 2 {
		if w, ok := want[cfg.brokerFlags[i]]; ok {
			if cfg.brokerFlags[i+1] != w {
				t.Errorf("%s = %s; want %s", cfg.brokerFlags[i], cfg.brokerFlags[i+1], w)
			}
			delete(want, cfg.brokerFlags[i])
		}
	}
	if len(want) > 0 {
		t.Errorf("flags missing: %v", want)
	}
}
