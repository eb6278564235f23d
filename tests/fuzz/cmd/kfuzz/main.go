// Command kfuzz runs the structure-aware protocol fuzzer (internal/protofuzz) against a
// `kafscale dev` it starts (built without the race detector, on loopback, data in a temp
// directory), or against a running broker with -addr. With its own broker it also checks
// the broker's log for BUG lines and panics, samples its RSS against -rss-limit, and stops
// it with SIGTERM, which must end in exit status 0. It exits 1 on any finding.
//
//	go run ./tests/fuzz/cmd/kfuzz -duration 30m -seed 42
//	go run ./tests/fuzz/cmd/kfuzz -requests 6000 -seed 19       # what CI runs
//	go run ./tests/fuzz/cmd/kfuzz -seed 42 -replay 3:1517,0:88  # regenerate findings
//	go run ./tests/fuzz/cmd/kfuzz -addr 127.0.0.1:9092 -duration 5m
//
// See docs/fuzzing.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kafscale/kafscale/bench"
	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/internal/protofuzz"
	"github.com/kafscale/kafscale/internal/testbroker"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kfuzz:", err)
		os.Exit(1)
	}
}

// defaultRSSLimit is the RSS bound of a run with the default broker settings: the derived
// soft memory limit at --max-partitions (256 MiB buffer + 256 MiB cache + 128 MiB merge
// window + 32 MiB compaction key map + 256 MiB of tails + 192 MiB + 16 KiB for each of
// 10,000 partitions = 1,276 MiB; the fuzzer creates topics) plus 64 MiB of memory the Go
// runtime does not count (docs/fuzzing.md).
const defaultRSSLimit = (256+256+128+32+256+192+64)<<20 + broker.DefaultMaxPartitions*broker.PartitionMemoryBytes

func run(args []string) error {
	cfg := protofuzz.DefaultConfig()
	fs := flag.NewFlagSet("kfuzz", flag.ContinueOnError)
	addr := fs.String("addr", "", "fuzz this running broker (host:port) instead of starting `kafscale dev`")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (0: pick one and print it)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: no bound)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "stop after this many requests (0: no bound)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "concurrent connections")
	fs.Float64Var(&cfg.MutateRatio, "mutate", cfg.MutateRatio, "share of frames mutated after encoding")
	fs.IntVar(&cfg.Canaries, "canaries", cfg.Canaries, "canary records produced (acks=all) before and checked after the run")
	fs.Int64Var(&cfg.RSSLimit, "rss-limit", defaultRSSLimit, "RSS bound of the broker in bytes (own broker only; 0: none)")
	replay := fs.String("replay", "", "comma-separated worker:index requests of an earlier run (same -seed) to send alone")
	kargs := fs.String("kafscale-args", "", "extra space-separated flags for `kafscale dev`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.Duration == 0 && cfg.Requests == 0 && *replay == "" {
		return errors.New("-duration or -requests must bound the run")
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() >> 1
	}
	for _, s := range strings.FieldsFunc(*replay, func(r rune) bool { return r == ',' }) {
		id, err := protofuzz.ParseRequestID(s)
		if err != nil {
			return err
		}
		cfg.Replay = append(cfg.Replay, id)
	}
	cfg.Logf = func(format string, args ...any) {
		fmt.Printf("%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Printf("kfuzz seed %d (rerun with -seed %d)\n", cfg.Seed, cfg.Seed)
	if *addr != "" {
		cfg.Addr, cfg.RSSLimit = *addr, 0
		rep, err := protofuzz.Run(ctx, cfg)
		if err != nil {
			return err
		}
		return verdict(rep, nil)
	}
	tb := bench.NewCommandTB(os.Stderr)
	defer tb.Close()
	return tb.Guard(func() error {
		b := testbroker.Start(tb, append([]string{"--shutdown-timeout", "30s"}, strings.Fields(*kargs)...)...)
		cfg.Addr = b.Addr
		cfg.RSS = b.RSS
		fmt.Printf("kafscale dev on %s, data in %s\n", b.Addr, b.DataDir)
		rep, err := protofuzz.Run(ctx, cfg)
		if err != nil {
			return err
		}
		var extra []string
		start := time.Now()
		if err := tb.Guard(func() error { b.Term(45 * time.Second); return nil }); err != nil {
			extra = append(extra, fmt.Sprintf("shutdown: %v", err))
		} else {
			fmt.Printf("broker exited 0 %s after SIGTERM\n", time.Since(start).Round(time.Millisecond))
		}
		for _, line := range protofuzz.ScanLog(b.LogTail(1 << 30)) {
			extra = append(extra, "broker log: "+line)
		}
		return verdict(rep, extra)
	})
}

// verdict prints the report and fails on any finding.
func verdict(rep *protofuzz.Report, extra []string) error {
	fmt.Print(rep.Summary())
	for _, e := range extra {
		fmt.Println(e)
	}
	if n := rep.Total + int64(len(extra)); n > 0 {
		return fmt.Errorf("%d findings with seed %d", n, rep.Seed)
	}
	fmt.Println("clean")
	return nil
}
