package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kafscale/kafscale/fsck"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/objstore"
)

const fsckUsage = `usage: kafscale fsck --etcd-endpoints URLS --s3-bucket NAME [flags]

Compares a cluster's etcd metadata with its bucket and reports what disagrees: objects
etcd references that the bucket lacks or that differ, footers that do not decode,
unreferenced objects older than --orphan-age (younger ones are in flight), topic manifests
that lag etcd, and offsets missing from a partition's log. Exit status: 0 healthy,
1 problems found (or fsck could not run), 2 bad usage.

With --rebuild, restores the metadata into an EMPTY etcd from the bucket alone (topics,
partitions, log extents, log starts, producer state, committed group offsets), with every
broker stopped. docs/fsck.md says what a rebuild restores and what it cannot.
`

// fsckConfig is everything `kafscale fsck` is configured with.
type fsckConfig struct {
	storeConfig
	Rebuild    bool
	JSON       bool
	VerifyData bool
	OrphanAge  time.Duration
	Parallel   int
	Timeout    time.Duration
}

func fsckFlags(cfg *fsckConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("fsck", flag.ContinueOnError)
	storeFlags(fs, &cfg.storeConfig)
	fs.BoolVar(&cfg.Rebuild, "rebuild", cfg.Rebuild, "restore the metadata into an empty etcd from the bucket")
	fs.BoolVar(&cfg.JSON, "json", cfg.JSON, "print the report as JSON")
	fs.BoolVar(&cfg.VerifyData, "verify-data", cfg.VerifyData, "also read every record batch and check its CRC-32C and offsets (reads the whole bucket)")
	fs.DurationVar(&cfg.OrphanAge, "orphan-age", cfg.OrphanAge, "age from which an unreferenced object is an orphan, not in flight (the brokers' --gc-grace plus --gc-interval)")
	fs.IntVar(&cfg.Parallel, "parallel", cfg.Parallel, "object footers read at the same time")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up after this long")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), fsckUsage, "\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func (c *fsckConfig) finish() error {
	if err := c.storeConfig.finish(); err != nil {
		return err
	}
	switch {
	case c.Rebuild && c.VerifyData:
		return errors.New("--verify-data checks; it cannot be combined with --rebuild")
	case c.OrphanAge <= 0:
		return fmt.Errorf("--orphan-age must be >0 (set to %s)", c.OrphanAge)
	case c.Parallel < 1:
		return fmt.Errorf("--parallel must be >= 1 (set to %d)", c.Parallel)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout must be >0 (set to %s)", c.Timeout)
	}
	return nil
}

// runFsck runs `kafscale fsck`: the report goes to stdout; an error (problems found, or
// fsck could not run) makes the exit status 1, a usage error 2.
func runFsck(args []string) error {
	o := fsck.DefaultOptions()
	cfg := fsckConfig{storeConfig: defaultStoreConfig(), OrphanAge: o.OrphanAge, Parallel: o.Parallel, Timeout: 30 * time.Minute}
	fs := fsckFlags(&cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs); err != nil {
		return &usageError{err}
	}
	if err := cfg.finish(); err != nil {
		return &usageError{err}
	}
	o.OrphanAge, o.Parallel, o.VerifyData = cfg.OrphanAge, cfg.Parallel, cfg.VerifyData
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cli, err := meta.NewClient(cfg.endpoints(), cfg.EtcdDialTimeout, log)
	if err != nil {
		return err
	}
	defer cli.Close()
	mcfg := meta.DefaultConfig()
	mcfg.Prefix = cfg.EtcdPrefix
	ms := meta.New(cli, mcfg, log)
	st, err := objstore.Open(ctx, "s3://"+cfg.S3.Bucket, cfg.S3, log)
	if err != nil {
		return fmt.Errorf("cannot open S3 bucket %s: %w", cfg.S3.Bucket, err)
	}
	var r *fsck.Report
	if cfg.Rebuild {
		r, err = fsck.Rebuild(ctx, ms, st, o)
	} else {
		r, err = fsck.Check(ctx, ms, st, o)
	}
	if err != nil {
		return err
	}
	if cfg.JSON {
		err = r.WriteJSON(os.Stdout)
	} else {
		err = r.WriteText(os.Stdout)
	}
	if err != nil {
		return err
	}
	if !r.Healthy() {
		return fmt.Errorf("%d problems found", len(r.Problems))
	}
	return nil
}
