// Command kcost measures KafScale's object-store and etcd cost at steady state: it runs a
// broker under a steady keyed produce load on a topic with a retention of one hour, once per
// cleanup.policy, and reports per GB produced the bytes stored in the bucket (sampled over
// time), the PUTs, GETs, LISTs and DELETEs the broker sent (kafscale_object_requests_total)
// and the etcd write transactions (etcd revisions).
//
//	go run ./bench/cmd/kcost                              # kafscale dev, local store, both policies
//	go run ./bench/cmd/kcost -backend minio -policies delete
//	go run ./bench/cmd/kcost -backend s3sim -scale 60 -policies delete   # S3 Standard's latency
//	go run ./bench/cmd/kcost -scale 1 -warmup 65m -window 60m   # real time settings
//
// Steady state under a one-hour retention takes more than an hour. -scale k divides every
// time setting of the lifecycle (retention.ms, --merge-age, --merge-interval, --gc-interval,
// --gc-grace, --flush-attempt-timeout, --retention-check-interval, --checkpoint-interval,
// --bucket-metadata-interval, --load-report-interval, at least 1 s) and every size tied to
// how much a partition holds (--merge-bytes, --merge-chunk-bytes, --merge-batch-bytes, --compaction-buffer-bytes,
// the key space) by k, and keeps the produce rate, record size and --flush-interval. Every
// ratio between times, and between sizes, is then what it is unscaled: the bucket holds 1/k
// of the bytes, bytes read and written per GB produced are unchanged, flush PUTs per GB are
// unchanged, and every request made per interval or per segment (merges, compaction, GC
// lists and deletes, bucket metadata) happens k times as often per GB: GC deletes in
// batches, one request per prefix and pass. The report gives the measured counts and, from
// the broker's own counter of flushes, the counts at scale 1 (docs/benchmarks.md,
// "Object-store cost at steady state").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kafscale/kafscale/bench"
)

// config is one kcost run.
type config struct {
	backend      string   // local or s3sim (kafscale dev), or minio (kafscale broker on MinIO and etcd)
	policies     []string // cleanup.policy values, one run each
	scale        float64  // k: time settings and partition sizes divided by it
	rate         int      // bytes produced per second (record values and keys)
	recordSize   int      // value bytes per record
	partitions   int32    //
	keys         int      // key space at scale 1 (divided by scale)
	warmup       time.Duration
	window       time.Duration
	sampleEvery  time.Duration
	parallel     bool // run the policies at the same time, each on its own broker
	brokerFlags  []string
	flushPeriod  time.Duration
	retentionAt1 time.Duration
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kcost:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results := make([]*result, len(cfg.policies))
	errs := make(chan error, len(cfg.policies))
	for i, policy := range cfg.policies {
		one := func() {
			tb := bench.NewCommandTB(os.Stderr)
			defer tb.Close()
			errs <- tb.Guard(func() error {
				r, err := measure(ctx, tb, cfg, policy)
				results[i] = r
				return err
			})
		}
		if cfg.parallel {
			go one()
		} else {
			one()
		}
	}
	var firstErr error
	for range cfg.policies {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	writeReport(os.Stdout, cfg, results)
	return firstErr
}

// parseFlags returns the run args ask for, validated; errors name the flag.
func parseFlags(args []string) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("kcost", flag.ContinueOnError)
	fs.StringVar(&cfg.backend, "backend", "local", "local (kafscale dev, local directory store, embedded etcd), s3sim (the same with --object-latency s3-standard) or minio (kafscale broker on MinIO and an etcd server)")
	policies := fs.String("policies", "delete;compact,delete", "';'-separated cleanup.policy values, one run each")
	fs.Float64Var(&cfg.scale, "scale", 12, "divide every lifecycle time setting and partition size by this (1: real settings; see the package doc)")
	fs.IntVar(&cfg.rate, "rate", 2<<20, "bytes produced per second (keys and values)")
	fs.IntVar(&cfg.recordSize, "record-size", 1024, "bytes per record, key included")
	partitions := fs.Int("partitions", 16, "partitions of the topic")
	fs.IntVar(&cfg.keys, "keys", 1_200_000, "key space at scale 1, keys drawn uniformly (divided by -scale)")
	warmup := fs.Duration("warmup", 0, "time before the measured window (0: retention + gc-grace + merge-age + both check intervals, scaled, plus 10%)")
	window := fs.Duration("window", 0, "measured window (0: one retention period, scaled)")
	fs.DurationVar(&cfg.sampleEvery, "sample", 5*time.Second, "how often the bucket's size is sampled")
	fs.BoolVar(&cfg.parallel, "parallel", false, "run the policies at the same time, each on its own broker (halves the wall time; they share the machine)")
	fs.DurationVar(&cfg.flushPeriod, "flush-interval", 100*time.Millisecond, "--flush-interval of the broker (not scaled)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.backend != "local" && cfg.backend != "s3sim" && cfg.backend != "minio":
		return cfg, fmt.Errorf("-backend must be local, s3sim or minio (set to %q)", cfg.backend)
	case cfg.scale < 1:
		return cfg, fmt.Errorf("-scale must be at least 1 (set to %g)", cfg.scale)
	case cfg.rate < 1024:
		return cfg, fmt.Errorf("-rate must be at least 1024 bytes/s (set to %d)", cfg.rate)
	case cfg.recordSize < 16:
		return cfg, fmt.Errorf("-record-size must be at least 16 (set to %d)", cfg.recordSize)
	case *partitions < 1 || *partitions > 10000:
		return cfg, fmt.Errorf("-partitions must be in [1, 10000] (set to %d)", *partitions)
	case float64(cfg.keys)/cfg.scale < 1:
		return cfg, fmt.Errorf("-keys must be at least -scale (set to %d)", cfg.keys)
	case cfg.sampleEvery <= 0:
		return cfg, fmt.Errorf("-sample must be positive (set to %s)", cfg.sampleEvery)
	}
	cfg.partitions = int32(*partitions)
	for p := range strings.SplitSeq(*policies, ";") {
		p = strings.TrimSpace(p)
		switch p {
		case "delete", "compact", "compact,delete", "delete,compact":
			cfg.policies = append(cfg.policies, p)
		default:
			return cfg, fmt.Errorf("-policies: unknown cleanup.policy %q (want delete, compact or compact,delete)", p)
		}
	}
	cfg.retentionAt1 = time.Hour
	cfg.brokerFlags = scaledFlags(cfg.scale, cfg.flushPeriod)
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) / cfg.scale) }
	cfg.warmup = *warmup
	if cfg.warmup == 0 {
		// Objects retention frees are deleted a GC grace (and interval) after retention
		// unreferences them, which happens up to a check interval after they expire;
		// before that the bucket only grows.
		cfg.warmup = s((cfg.retentionAt1 + 10*time.Minute + 2*time.Minute + 5*time.Minute + time.Minute) * 11 / 10)
	}
	cfg.window = *window
	if cfg.window == 0 {
		cfg.window = s(cfg.retentionAt1)
	}
	return cfg, nil
}

// scaledFlags are the broker flags of a run at scale k: the defaults of every lifecycle
// time and partition size, divided by k.
func scaledFlags(k float64, flush time.Duration) []string {
	d := func(v time.Duration) string { return time.Duration(float64(v) / k).String() }
	n := func(v int64) string { return fmt.Sprint(int64(float64(v) / k)) }
	return []string{
		"--flush-interval", flush.String(),
		"--merge-age", d(2 * time.Minute),
		"--merge-interval", d(10 * time.Second),
		"--gc-interval", d(time.Minute),
		"--gc-grace", d(10 * time.Minute),
		"--flush-attempt-timeout", d(30 * time.Second),
		"--retention-check-interval", d(5 * time.Minute),
		"--checkpoint-interval", d(30 * time.Second),
		"--bucket-metadata-interval", d(time.Minute),
		// The broker refuses a load report interval below 1 s; a coarser one only means
		// fewer etcd writes, counted with the time-driven ones.
		"--load-report-interval", max(time.Second, time.Duration(float64(30*time.Second)/k)).String(),
		"--merge-bytes", n(64 << 20),
		"--merge-chunk-bytes", n(1 << 20),
		"--merge-batch-bytes", n(128 << 20),
		"--compaction-buffer-bytes", n(32 << 20),
	}
}
