package group

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidateNamesTheFlag(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("the default config is invalid: %v", err)
	}
	for _, tc := range []struct {
		flag string
		mod  func(*Config)
	}{
		{"--group-initial-rebalance-delay", func(c *Config) { c.InitialRebalanceDelay = -time.Second }},
		{"--group-min-session-timeout", func(c *Config) { c.MinSessionTimeout = 0 }},
		{"--group-max-session-timeout", func(c *Config) { c.MaxSessionTimeout = time.Second }},
		{"--group-max-size", func(c *Config) { c.MaxSize = 0 }},
		{"--offset-metadata-max-bytes", func(c *Config) { c.OffsetMetadataMaxBytes = -1 }},
		{"--group-id-max-bytes", func(c *Config) { c.MaxGroupIDBytes = 0 }},
		{"--group-consumer-heartbeat-interval", func(c *Config) { c.ConsumerHeartbeatInterval = 0 }},
		{"--group-consumer-session-timeout", func(c *Config) { c.ConsumerSessionTimeout = time.Second }},
	} {
		cfg := DefaultConfig()
		tc.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.flag+" ") {
			t.Errorf("Validate with a bad %s = %v, want an error naming it", tc.flag, err)
		}
	}
}

// TestConfigKeepsStoredStringsWithinOldVersions guards against settings that let a group
// store a string no non-flexible version can echo (ListGroups v0-v2 group ids,
// OffsetFetch v0-v5 offset metadata).
func TestConfigKeepsStoredStringsWithinOldVersions(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
	}{
		{"--group-id-max-bytes", func(c *Config) { c.MaxGroupIDBytes = MaxNameBytes + 1 }},
		{"--offset-metadata-max-bytes", func(c *Config) { c.OffsetMetadataMaxBytes = MaxNameBytes + 1 }},
	} {
		cfg := DefaultConfig()
		tc.set(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s over 32,767: Validate() = %v, want an error naming the flag", tc.name, err)
		}
		cfg = DefaultConfig()
		cfg.MaxGroupIDBytes, cfg.OffsetMetadataMaxBytes = MaxNameBytes, MaxNameBytes
		if err := cfg.Validate(); err != nil {
			t.Errorf("32,767 is refused: %v", err)
		}
	}
}
