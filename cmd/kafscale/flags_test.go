package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestNoFlagsEqualsDefaults guards against a flag whose default drifts from the config
// defaults (flags must default to the config's fields).
func TestNoFlagsEqualsDefaults(t *testing.T) {
	cfg := defaultDevConfig()
	fs := devFlags(&cfg)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.flags = nil
	if want := defaultDevConfig(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("parsing no flags changed the config:\n got %+v\nwant %+v", cfg, want)
	}
	bcfg := defaultBrokerConfig()
	bfs := brokerFlags(&bcfg)
	if err := bfs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if want := defaultBrokerConfig(); !reflect.DeepEqual(bcfg, want) {
		t.Fatalf("parsing no broker flags changed the config:\n got %+v\nwant %+v", bcfg, want)
	}
}

// TestDevFlushIntervalDefault: dev's local store cuts every millisecond; a simulated S3
// (--object-latency) keeps the S3 default of 100 ms unless --flush-interval or
// KAFSCALE_FLUSH_INTERVAL says otherwise.
func TestDevFlushIntervalDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want time.Duration
	}{
		{nil, "", time.Millisecond},
		{[]string{"--object-latency", "s3-standard"}, "", 100 * time.Millisecond},
		{[]string{"--object-latency", "s3-standard", "--flush-interval", "1ms"}, "", time.Millisecond},
		{[]string{"--object-latency", "s3-standard"}, "5ms", 5 * time.Millisecond},
		{[]string{"--flush-interval", "20ms"}, "", 20 * time.Millisecond},
	} {
		t.Run(strings.Join(tc.args, " ")+" env="+tc.env, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("KAFSCALE_FLUSH_INTERVAL", tc.env)
			}
			cfg := defaultDevConfig()
			if _, err := parseFlags(devFlags(&cfg), tc.args, cfg.finish); err != nil {
				t.Fatal(err)
			}
			if cfg.Flush.FlushInterval != tc.want {
				t.Errorf("flush interval %s, want %s", cfg.Flush.FlushInterval, tc.want)
			}
		})
	}
}

// TestDevHedgeDefault: dev hedges no PUT on its local store; a simulated S3
// (--object-latency) gets the S3 default (0.9) unless --upload-hedge-quantile or
// KAFSCALE_UPLOAD_HEDGE_QUANTILE says otherwise; `kafscale broker` hedges by default.
func TestDevHedgeDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want float64
	}{
		{nil, "", 0},
		{[]string{"--upload-hedge-quantile", "0.8"}, "", 0.8},
		{[]string{"--object-latency", "s3-published"}, "", 0.9},
		{[]string{"--object-latency", "s3-published", "--upload-hedge-quantile", "0"}, "", 0},
		{[]string{"--object-latency", "s3-published"}, "0.75", 0.75},
	} {
		t.Run(strings.Join(tc.args, " ")+" env="+tc.env, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("KAFSCALE_UPLOAD_HEDGE_QUANTILE", tc.env)
			}
			cfg := defaultDevConfig()
			if _, err := parseFlags(devFlags(&cfg), tc.args, cfg.finish); err != nil {
				t.Fatal(err)
			}
			if cfg.Flush.HedgeQuantile != tc.want {
				t.Errorf("hedge quantile %g, want %g", cfg.Flush.HedgeQuantile, tc.want)
			}
		})
	}
	if q := defaultBrokerConfig().Flush.HedgeQuantile; q != 0.9 {
		t.Errorf("kafscale broker hedge quantile %g, want 0.9", q)
	}
}

func TestDevDefaultsAreValid(t *testing.T) {
	cfg := defaultDevConfig()
	if err := cfg.finish(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if cfg.Broker.AdvertisedHost != "127.0.0.1" || cfg.Broker.AdvertisedPort != 9092 {
		t.Fatalf("advertised listener defaults to %s:%d, want --listen", cfg.Broker.AdvertisedHost, cfg.Broker.AdvertisedPort)
	}
}

// TestBadFlagNamesTheFlag: every bad setting stops the start with an error naming it.
func TestBadFlagNamesTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "nonsense"}, "--listen"},
		{[]string{"--listen", "127.0.0.1:99999"}, "--listen"},
		{[]string{"--listen", "0.0.0.0:9092"}, "--advertised-listener is required"},
		{[]string{"--advertised-listener", "host"}, "--advertised-listener"},
		{[]string{"--metrics-listen", "x"}, "--metrics-listen"},
		{[]string{"--etcd-listen", "x"}, "--etcd-listen"},
		{[]string{"--data-dir", ""}, "--data-dir"},
		{[]string{"--flush-bytes", "0"}, "--flush-bytes"},
		{[]string{"--flush-interval", "0s"}, "--flush-interval"},
		{[]string{"--buffer-bytes", "10"}, "--buffer-bytes"},
		{[]string{"--cache-bytes", "-1"}, "--cache-bytes"},
		{[]string{"--num-partitions", "0"}, "--num-partitions"},
		{[]string{"--num-partitions", "x"}, "num-partitions"},
		{[]string{"--max-partitions", "0"}, "--max-partitions"},
		{[]string{"--max-partitions", "-5"}, "--max-partitions"},
		{[]string{"--node-id", "-3"}, "--node-id"},
		{[]string{"--broker-id", "-3"}, "--broker-id"},
		{[]string{"--broker-id", "kafscale-x"}, "broker-id"},
		{[]string{"--message-max-bytes", "0"}, "--message-max-bytes"},
		{[]string{"--tail-bytes", "-1"}, "--tail-bytes"},
		{[]string{"--tail-total-bytes", "-1"}, "--tail-total-bytes"},
		{[]string{"--shutdown-timeout", "0s"}, "--shutdown-timeout"},
		{[]string{"--memory-limit", "-2"}, "--memory-limit"},
		{[]string{"--object-latency", "put=fast"}, "--object-latency"},
		{[]string{"--upload-concurrency", "0"}, "--upload-concurrency"},
		{[]string{"--upload-hedge-quantile", "1"}, "--upload-hedge-quantile"},
		{[]string{"--upload-hedge-quantile", "-0.5"}, "--upload-hedge-quantile"},
		{[]string{"--upload-hedge-min-delay", "-1ms"}, "--upload-hedge-min-delay"},
		{[]string{"--merge-bytes", "0"}, "--merge-bytes"},
		{[]string{"--read-ahead-bytes", "-1"}, "--read-ahead-bytes"},
		{[]string{"--cache-bytes", "1000", "--read-ahead-bytes", "1000"}, "--read-ahead-bytes"},
		{[]string{"--gc-grace", "0s"}, "--gc-grace"},
		{[]string{"--producer-id-expiration", "0s"}, "--producer-id-expiration"},
		{[]string{"--offsets-retention", "0s"}, "--offsets-retention must"},
		{[]string{"--offsets-retention-check-interval", "-1s"}, "--offsets-retention-check-interval"},
		{[]string{"--max-request-bytes", "0"}, "--max-request-bytes"},
		{[]string{"--max-request-bytes", "3000000000"}, "--max-request-bytes"},
		{[]string{"--queued-max-request-bytes", "1000"}, "--queued-max-request-bytes must be at least --max-request-bytes"},
		{[]string{"--max-request-bytes", "300000000"}, "--queued-max-request-bytes"},
		{[]string{"--max-connections", "0"}, "--max-connections must"},
		{[]string{"--max-connections-per-ip", "-1"}, "--max-connections-per-ip"},
		{[]string{"--request-read-timeout", "0s"}, "--request-read-timeout"},
		{[]string{"--connections-max-idle", "-1s"}, "--connections-max-idle"},
		{[]string{"--max-in-flight-requests-per-connection", "0"}, "--max-in-flight-requests-per-connection"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"stray"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg := defaultDevConfig()
			fs := devFlags(&cfg)
			fs.SetOutput(new(strings.Builder))
			_, err := parseFlags(fs, tt.args, cfg.finish)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestBrokerRequiresEtcdAndBucket(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--s3-bucket", "b"}, "--etcd-endpoints"},
		{[]string{"--etcd-endpoints", "http://127.0.0.1:2379"}, "--s3-bucket"},
		{[]string{"--etcd-endpoints", "127.0.0.1:2379", "--s3-bucket", "b"}, "--etcd-endpoints"},
		{[]string{"--etcd-endpoints", "http://e:2379", "--s3-bucket", "b", "--etcd-prefix", "x"}, "--etcd-prefix"},
		{[]string{"--etcd-endpoints", "http://e:2379", "--s3-bucket", "b", "--s3-part-size", "1"}, "--s3-*"},
		{[]string{"--etcd-endpoints", "http://e:2379", "--s3-bucket", "b", "--session-ttl", "1s"}, "--session-ttl"},
		{[]string{"--etcd-endpoints", "http://e:2379", "--s3-bucket", "b", "--s3-max-retries", "0"}, "--s3-max-retries"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg := defaultBrokerConfig()
			fs := brokerFlags(&cfg)
			_, err := parseFlags(fs, tt.args, cfg.finish)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one naming %q", err, tt.want)
			}
		})
	}
	cfg := defaultBrokerConfig()
	fs := brokerFlags(&cfg)
	if _, err := parseFlags(fs, []string{"--etcd-endpoints", "http://a:2379,http://b:2379", "--s3-bucket", "b"}, cfg.finish); err != nil {
		t.Fatalf("valid broker flags rejected: %v", err)
	}
	if got := cfg.endpoints(); len(got) != 2 {
		t.Fatalf("endpoints = %v, want two", got)
	}
}

// TestEnvSetsUnsetFlags: KAFSCALE_* variables fill flags not given on the command line, and
// a bad value names both the variable and the flag.
func TestEnvSetsUnsetFlags(t *testing.T) {
	t.Setenv("KAFSCALE_FLUSH_INTERVAL", "250ms")
	t.Setenv("KAFSCALE_LISTEN", "127.0.0.1:7777")
	cfg := defaultDevConfig()
	fs := devFlags(&cfg)
	if _, err := parseFlags(fs, []string{"--listen", "127.0.0.1:8888"}, cfg.finish); err != nil {
		t.Fatal(err)
	}
	if cfg.Flush.FlushInterval != 250*time.Millisecond {
		t.Fatalf("flush interval = %s, want 250ms from the environment", cfg.Flush.FlushInterval)
	}
	if cfg.Listen != "127.0.0.1:8888" {
		t.Fatalf("listen = %s: the command line must win over the environment", cfg.Listen)
	}
	t.Setenv("KAFSCALE_FLUSH_BYTES", "lots")
	cfg = defaultDevConfig()
	fs = devFlags(&cfg)
	_, err := parseFlags(fs, nil, cfg.finish)
	if err == nil || !strings.Contains(err.Error(), "KAFSCALE_FLUSH_BYTES") || !strings.Contains(err.Error(), "--flush-bytes") {
		t.Fatalf("error = %v, want one naming KAFSCALE_FLUSH_BYTES and --flush-bytes", err)
	}
}

// TestMaxRequestBytesCanBeRaised: socket.request.max.bytes above its 100 MiB default is a
// valid setting (the paused-connection bound follows it).
func TestMaxRequestBytesCanBeRaised(t *testing.T) {
	cfg := defaultDevConfig()
	fs := devFlags(&cfg)
	if _, err := parseFlags(fs, []string{"--max-request-bytes", "209715200"}, cfg.finish); err != nil {
		t.Fatalf("--max-request-bytes 200 MiB: %v", err)
	}
	if cfg.Net.MaxRequestBytes != 200<<20 {
		t.Fatalf("MaxRequestBytes = %d, want %d", cfg.Net.MaxRequestBytes, 200<<20)
	}
}

// TestBrokerIDFromPodName: a StatefulSet gives each pod a name ending in its ordinal; the
// broker id can be set from it (KAFSCALE_BROKER_ID from metadata.name).
func TestBrokerIDFromPodName(t *testing.T) {
	for in, want := range map[string]int32{"3": 3, "kafscale-2": 2, "my-kafscale-broker-17": 17, "0": 0} {
		var got int32 = -1
		if err := brokerIDFlag(&got)(in); err != nil || got != want {
			t.Errorf("--broker-id %q = %d (%v), want %d", in, got, err, want)
		}
	}
}

// TestDerivedMemoryLimitCountsEveryBoundedConsumer: --memory-limit -1 derives the soft
// limit from the buffer, the cache, a merge window, a compaction key map and the tails
// (--tail-total-bytes) plus the margin, so raising any of them raises the limit; 0 and
// GOMEMLIMIT leave it to the runtime.
func TestDerivedMemoryLimitCountsEveryBoundedConsumer(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	const mib = 1 << 20
	for _, tc := range []struct {
		args []string
		want int64
	}{
		{nil, (256 + 256 + 128 + 32 + 256 + 192) * mib},
		{[]string{"--buffer-bytes", "100"}, 100 + (256+128+32+256+192)*mib},
		{[]string{"--cache-bytes", "100"}, 100 + (256+128+32+256+192)*mib},
		{[]string{"--merge-batch-bytes", "100"}, 100 + (256+256+32+256+192)*mib},
		{[]string{"--compaction-buffer-bytes", "100"}, 100 + (256+256+128+256+192)*mib},
		{[]string{"--tail-total-bytes", "100"}, 100 + (256+256+128+32+192)*mib},
		{[]string{"--tail-total-bytes", "0"}, (256 + 256 + 128 + 32 + 192) * mib},
		{[]string{"--memory-limit", "12345"}, 12345},
		{[]string{"--memory-limit", "0"}, 0},
	} {
		cfg := defaultBrokerConfig()
		if err := brokerFlags(&cfg).Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := cfg.memoryLimit(); got != tc.want {
			t.Errorf("%v: derived memory limit %d; want %d", tc.args, got, tc.want)
		}
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	cfg := defaultBrokerConfig()
	if got := cfg.memoryLimit(); got != 0 {
		t.Errorf("with GOMEMLIMIT set: derived memory limit %d; want 0 (the runtime's)", got)
	}
}
