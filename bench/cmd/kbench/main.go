// Command kbench runs KafScale's end-to-end benchmark: the same franz-go load against
// `kafscale dev`, franz-go's kfake and a loopback TCP sink, one after the other, and prints
// throughput, produce-ack and end-to-end latency percentiles, broker CPU, RSS, object-store
// and etcd request rates, and the ratios between targets.
//
//	go run ./bench/cmd/kbench                                  # all three, max rate, 20 s each
//	go run ./bench/cmd/kbench -targets kafscale-dev,kafscale-dev/s3sim -rate 20480 -duration 20s
//	go run ./bench/cmd/kbench -brokers host:9092 -metrics http://host:9093/metrics
//
// -fill D runs the consume-only load instead (the maximum fetch rate): the producers write
// the topic for D, then the consumers read it from the start and the window measures that.
// -profile DIR writes each broker's CPU and allocation profiles over the window.
//
//	go run ./bench/cmd/kbench -targets kafscale-dev -fill 20s -warmup 2s -duration 20s -profile /tmp/prof
//
// -sync N runs the synchronous-producer load instead: N goroutines share one client with a
// 5,000-byte buffer (kgo.MaxBufferedBytes(5000), otherwise franz-go's defaults: idempotent,
// acks=all), each producing one record (100 B unless -record-size says otherwise) to
// partition 0 and waiting for its acknowledgement before the next, as an application doing
// producer.send(record).get(). It reports acknowledgements per second and the round trip
// (send to ack) p50/p90/p99/p99.9/max of each target, and their ratios. -rate, -producers,
// -consumers and -linger do not apply to it and are refused.
//
//	go run ./bench/cmd/kbench -sync 1 -targets kafscale-dev,kfake -duration 10s
//	go run ./bench/cmd/kbench -sync 50 -targets kafscale-dev,kafscale-dev/minio,kfake
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/kafscale/kafscale/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kbench:", err)
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
	tb := bench.NewCommandTB(os.Stderr)
	defer tb.Close()
	var results []*bench.Result
	err = tb.Guard(func() error {
		var err error
		results, err = bench.Run(ctx, tb, cfg, os.Stderr)
		return err
	})
	fmt.Println()
	bench.WriteReport(os.Stdout, cfg.Load, results)
	return err
}

// syncConflicts are the flags that do not apply to -sync.
var syncConflicts = []string{"rate", "producers", "consumers", "linger"}

// parseFlags returns the run that args ask for, validated.
func parseFlags(args []string) (bench.Config, error) {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("kbench", flag.ContinueOnError)
	targets := strings.Join(cfg.Targets, ",")
	fs.StringVar(&targets, "targets", targets, "comma-separated targets, run in turn: kafscale-dev[/local|/s3sim|/minio], kafka (Apache Kafka 4.4.0 from the test deps), kfake, tcp-sink, brokers")
	fs.StringVar(&targets, "target", targets, "alias of -targets")
	fs.StringVar(&cfg.Brokers, "brokers", cfg.Brokers, "bootstrap host:port of an external cluster; alone, it makes -targets brokers")
	fs.StringVar(&cfg.MetricsURL, "metrics", cfg.MetricsURL, "/metrics URL of the external cluster (optional)")
	fs.StringVar(&cfg.Backend, "backend", cfg.Backend, "object store of kafscale-dev when its target names none: local, s3sim or minio")
	fs.StringVar(&cfg.ObjectLatency, "object-latency", cfg.ObjectLatency, "the s3sim backend's latency (kafscale dev --object-latency)")
	kargs := ""
	fs.StringVar(&kargs, "kafscale-args", kargs, "extra space-separated flags for the kafscale process, e.g. \"--flush-interval 50ms\"")
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "producer clients (P)")
	fs.IntVar(&cfg.Consumers, "consumers", cfg.Consumers, "consumer clients (C); partitions are split among them")
	rate := "max"
	fs.StringVar(&rate, "rate", rate, "total records/s, or max")
	fs.IntVar(&cfg.RecordSize, "record-size", cfg.RecordSize, fmt.Sprintf("record value bytes (%d with -sync)", bench.DefaultSyncRecordSize))
	partitions := int(cfg.Partitions)
	fs.IntVar(&partitions, "partitions", partitions, "partitions of the benchmark topic")
	fs.StringVar(&cfg.Acks, "acks", cfg.Acks, "all, 1 or 0")
	fs.StringVar(&cfg.Codec, "codec", cfg.Codec, "none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&cfg.Linger, "linger", cfg.Linger, "producer linger (0: franz-go's default, 10ms)")
	fs.BoolVar(&cfg.Idempotent, "idempotent", cfg.Idempotent, "idempotent producers, franz-go's and the Java client's default (acks=all, up to 5 requests in flight); -idempotent=false for other -acks or -inflight")
	fs.IntVar(&cfg.Inflight, "inflight", cfg.Inflight, "produce requests in flight per broker per producer (0: franz-go's default without idempotence, 1)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load before the measured window, not counted")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured window per target")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "bound on finishing produces and consuming after the window")
	fs.IntVar(&cfg.Sync, "sync", cfg.Sync, fmt.Sprintf("N synchronous producers instead of the asynchronous load: N goroutines sharing one client (MaxBufferedBytes %d), each producing one record to partition 0 and waiting for its ack before the next; refuses -%s", bench.SyncBufferedBytes, strings.Join(syncConflicts, ", -")))
	fs.DurationVar(&cfg.Fill, "fill", cfg.Fill, "consume only (the maximum fetch rate): the producers write the topic for this long and stop, then -consumers read it from the start; -warmup and -duration time the reading")
	fs.StringVar(&cfg.ProfileDir, "profile", cfg.ProfileDir, "write each broker's CPU and allocation profiles over the window to this directory (<target>-cpu.pprof, <target>-allocs.pprof; kafscale-dev runs with --pprof)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if cfg.Sync > 0 {
		var conflicts []string
		for _, name := range syncConflicts {
			if given[name] {
				conflicts = append(conflicts, "-"+name)
			}
		}
		if len(conflicts) > 0 {
			return cfg, fmt.Errorf("-sync %d cannot be combined with %s: its goroutines share one client, send each record when the last is acknowledged and run no consumers", cfg.Sync, strings.Join(conflicts, ", "))
		}
		cfg.Consumers = 0
		if !given["record-size"] {
			cfg.RecordSize = bench.DefaultSyncRecordSize
		}
	}
	if cfg.Brokers != "" && !given["targets"] && !given["target"] {
		targets = bench.TargetBrokers
	}
	cfg.Targets = strings.Split(targets, ",")
	cfg.KafscaleArgs = strings.Fields(kargs)
	cfg.Partitions = int32(partitions)
	if rate != "max" {
		r, err := strconv.ParseFloat(rate, 64)
		if err != nil || r <= 0 {
			return cfg, fmt.Errorf("-rate must be a positive number of records/s or max (set to %q)", rate)
		}
		cfg.Rate = r
	}
	return cfg, cfg.Validate()
}
