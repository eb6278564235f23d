// Command kscale measures one KafScale broker at scale (issue 20, acceptance 6): it creates
// -partitions partitions, times Metadata for every topic, writes to every partition for
// -write-for with merging held off, kills the broker with SIGKILL and times its restart
// until every partition answers with the end offset it had, then opens -connections idle
// client connections and times a new client's first answer. Each target is its own process
// (`kafscale dev`, or `kafscale broker` on MinIO and an etcd server), built without the race
// detector. Not run by CI.
//
//	go run ./bench/cmd/kscale                                    # 10,000 partitions, 10 min of writes, 5,000 connections
//	go run ./bench/cmd/kscale -targets kafscale-dev -write-for 1m -kafscale-args --pprof
//
// It raises its open-files limit to the hard limit (the broker it starts inherits it): 5,000
// connections need 5,000 descriptors on each side.
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

	"github.com/kafscale/kafscale/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kscale:", err)
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
	if err := raiseFileLimit(uint64(2*cfg.Connections + 4096)); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tb := bench.NewCommandTB(os.Stderr)
	defer tb.Close()
	var results []*bench.ScaleResult
	err = tb.Guard(func() error {
		var err error
		results, err = bench.RunScale(ctx, tb, cfg, os.Stderr)
		return err
	})
	fmt.Println()
	bench.WriteScaleReport(os.Stdout, cfg, results)
	return err
}

// raiseFileLimit sets the soft open-files limit to the hard one, failing if that is below
// need.
func raiseFileLimit(need uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("cannot read the open-files limit: %w", err)
	}
	if l.Max < need {
		return fmt.Errorf("the open-files hard limit is %d; -connections needs %d (raise it: ulimit -Hn)", l.Max, need)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return fmt.Errorf("cannot raise the open-files limit to %d: %w", l.Max, err)
		}
	}
	return nil
}

// parseFlags returns the run that args ask for, validated.
func parseFlags(args []string) (bench.ScaleConfig, error) {
	cfg := bench.DefaultScaleConfig()
	fs := flag.NewFlagSet("kscale", flag.ContinueOnError)
	targets := strings.Join(cfg.Targets, ",")
	fs.StringVar(&targets, "targets", targets, "comma-separated targets, run in turn: kafscale-dev, kafscale-dev/minio")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions to create")
	fs.IntVar(&cfg.TopicPartitions, "topic-partitions", cfg.TopicPartitions, "partitions per topic")
	fs.DurationVar(&cfg.WriteFor, "write-for", cfg.WriteFor, "how long to write to every partition before the kill (unmerged data); 0 writes nothing")
	fs.Float64Var(&cfg.WriteRate, "write-rate", cfg.WriteRate, "records/s written, round robin over every partition")
	fs.IntVar(&cfg.RecordSize, "record-size", cfg.RecordSize, "record value bytes")
	fs.IntVar(&cfg.Connections, "connections", cfg.Connections, "idle client connections to open (0: skip)")
	fs.IntVar(&cfg.MetadataRounds, "metadata-rounds", cfg.MetadataRounds, "Metadata requests for every topic to time")
	kargs := ""
	fs.StringVar(&kargs, "kafscale-args", kargs, "extra space-separated flags for the broker, e.g. \"--pprof\"")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Targets = strings.Split(targets, ",")
	cfg.KafscaleArgs = strings.Fields(kargs)
	return cfg, cfg.Validate()
}
