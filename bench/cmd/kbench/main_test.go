package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kafscale/kafscale/bench"
)

// TestSyncFlagConflicts: -sync refuses the flags of the asynchronous load, naming each one
// given, and takes the others.
func TestSyncFlagConflicts(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string // "" for none
	}{
		{[]string{"-sync", "50"}, ""},
		{[]string{"-sync", "1", "-acks", "all", "-partitions", "1", "-record-size", "1024", "-codec", "zstd"}, ""},
		{[]string{"-sync", "50", "-rate", "100"}, "-sync 50 cannot be combined with -rate:"},
		{[]string{"-sync", "50", "-consumers", "0"}, "-sync 50 cannot be combined with -consumers:"},
		{[]string{"-sync", "2", "-rate", "max", "-producers", "3", "-consumers", "1", "-linger", "5ms"}, "-sync 2 cannot be combined with -rate, -producers, -consumers, -linger:"},
		{[]string{"-sync", "2", "-record-size", "6000"}, "-record-size must be <= 5000"},
		{[]string{"-sync", "-1"}, "-sync must be >= 0 (set to -1)"},
		{[]string{"-sync", "0", "-rate", "100", "-consumers", "2"}, ""},
	} {
		_, err := parseFlags(tc.args)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}
}

// TestSyncSettings: -sync runs no consumers and 100 B records unless -record-size is given.
func TestSyncSettings(t *testing.T) {
	cfg, err := parseFlags([]string{"-sync", "50"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync != 50 || cfg.Consumers != 0 || cfg.RecordSize != bench.DefaultSyncRecordSize || cfg.Rate != 0 || !cfg.Idempotent || cfg.Acks != "all" {
		t.Errorf("-sync 50: %+v", cfg.Load)
	}
	cfg, err = parseFlags([]string{"-sync", "50", "-record-size", "1024"})
	if err != nil || cfg.RecordSize != 1024 {
		t.Errorf("-sync 50 -record-size 1024: record size %d, %v", cfg.RecordSize, err)
	}
}

// TestNoSyncFlagsGiveDefaultConfig: without flags kbench runs bench.DefaultConfig(), the
// asynchronous load, as before -sync existed.
func TestNoSyncFlagsGiveDefaultConfig(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := bench.DefaultConfig()
	want.KafscaleArgs = []string{}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("no flags:\n got %+v\nwant %+v", cfg, want)
	}
}
