package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// brokerConfig is everything `kafscale broker` is configured with.
type brokerConfig struct {
	serverConfig
	storeConfig
	SessionTTL     time.Duration
	EtcdCompaction time.Duration
}

// storeConfig says where a cluster keeps its metadata (etcd) and its data (S3): the
// settings `kafscale broker` and `kafscale fsck` share.
type storeConfig struct {
	EtcdEndpoints   string
	EtcdPrefix      string
	EtcdDialTimeout time.Duration
	S3              objstore.S3Config
}

func defaultStoreConfig() storeConfig {
	return storeConfig{
		EtcdPrefix:      meta.DefaultPrefix,
		EtcdDialTimeout: 5 * time.Second,
		S3:              objstore.DefaultS3Config(),
	}
}

func defaultBrokerConfig() brokerConfig {
	return brokerConfig{
		serverConfig:   defaultServerConfig(),
		storeConfig:    defaultStoreConfig(),
		SessionTTL:     meta.DefaultConfig().SessionTTL,
		EtcdCompaction: 5 * time.Minute,
	}
}

func brokerFlags(cfg *brokerConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	storeFlags(fs, &cfg.storeConfig)
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "etcd session lease TTL; a broker cut off from etcd this long stops leading")
	fs.DurationVar(&cfg.EtcdCompaction, "etcd-compaction-retention", cfg.EtcdCompaction, "compact etcd history older than this (0: leave it to etcd's own --auto-compaction-retention)")
	serverFlags(fs, &cfg.serverConfig)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), brokerVerbsUsage, "\nflags of a broker:\n")
		fs.PrintDefaults()
	}
	return fs
}

// storeFlags adds the etcd and S3 flags.
func storeFlags(fs *flag.FlagSet, cfg *storeConfig) {
	fs.StringVar(&cfg.EtcdEndpoints, "etcd-endpoints", cfg.EtcdEndpoints, "comma-separated etcd client URLs (required)")
	fs.StringVar(&cfg.EtcdPrefix, "etcd-prefix", cfg.EtcdPrefix, "key prefix of this cluster's metadata in etcd")
	fs.DurationVar(&cfg.EtcdDialTimeout, "etcd-dial-timeout", cfg.EtcdDialTimeout, "how long one etcd connection attempt may take")
	fs.StringVar(&cfg.S3.Bucket, "s3-bucket", cfg.S3.Bucket, "S3 bucket holding record data (required)")
	fs.StringVar(&cfg.S3.Prefix, "s3-prefix", cfg.S3.Prefix, "key prefix inside the bucket")
	fs.StringVar(&cfg.S3.Endpoint, "s3-endpoint", cfg.S3.Endpoint, "S3 endpoint URL for S3-compatible servers (default: AWS)")
	fs.StringVar(&cfg.S3.Region, "s3-region", cfg.S3.Region, "S3 region (default: the AWS SDK's, else us-east-1)")
	fs.BoolVar(&cfg.S3.PathStyle, "s3-path-style", cfg.S3.PathStyle, "address buckets as endpoint/bucket (MinIO and most S3-compatible servers)")
	fs.Int64Var(&cfg.S3.MultipartThreshold, "s3-multipart-threshold", cfg.S3.MultipartThreshold, "object size from which uploads are multipart")
	fs.Int64Var(&cfg.S3.PartSize, "s3-part-size", cfg.S3.PartSize, "multipart part size (>= 5 MiB)")
	fs.DurationVar(&cfg.S3.RequestTimeout, "s3-request-timeout", cfg.S3.RequestTimeout, "bound of one S3 request attempt")
	fs.IntVar(&cfg.S3.MaxRetries, "s3-max-retries", cfg.S3.MaxRetries, "retries of a failed S3 request inside one attempt of the flusher")
}

func (c *brokerConfig) finish() error {
	if err := c.storeConfig.finish(); err != nil {
		return err
	}
	if c.SessionTTL < 2*time.Second {
		return fmt.Errorf("--session-ttl must be >= 2s (set to %s)", c.SessionTTL)
	}
	if c.EtcdCompaction < 0 {
		return fmt.Errorf("--etcd-compaction-retention must be >=0 (set to %s)", c.EtcdCompaction)
	}
	return c.serverConfig.finish()
}

func (c *storeConfig) finish() error {
	if c.EtcdEndpoints == "" {
		return errors.New("--etcd-endpoints is required (e.g. http://127.0.0.1:2379)")
	}
	for _, ep := range c.endpoints() {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			return fmt.Errorf("--etcd-endpoints entries must be http:// or https:// URLs (got %q)", ep)
		}
	}
	if c.EtcdPrefix == "" || !strings.HasPrefix(c.EtcdPrefix, "/") {
		return fmt.Errorf("--etcd-prefix must start with / (set to %q)", c.EtcdPrefix)
	}
	if c.EtcdDialTimeout <= 0 {
		return fmt.Errorf("--etcd-dial-timeout must be >0 (set to %s)", c.EtcdDialTimeout)
	}
	if c.S3.Bucket == "" {
		return errors.New("--s3-bucket is required")
	}
	if c.S3.MaxRetries < 1 {
		// S3Config treats 0 as "the default", so 0 would silently mean 4 retries.
		return fmt.Errorf("--s3-max-retries must be >= 1 (set to %d)", c.S3.MaxRetries)
	}
	if err := c.S3.Validate(); err != nil {
		return fmt.Errorf("invalid --s3-* setting: %w", err)
	}
	return nil
}

func (c *storeConfig) endpoints() []string { return splitList(c.EtcdEndpoints) }

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func runBrokerServer(args []string) error {
	cfg := defaultBrokerConfig()
	return runServer(brokerFlags(&cfg), args, &cfg.serverConfig, cfg.finish, func(ctx context.Context, log *slog.Logger) error {
		return serveBroker(ctx, cfg, log)
	})
}

// serveBroker runs a broker on external etcd and S3.
func serveBroker(ctx context.Context, cfg brokerConfig, log *slog.Logger) error {
	setup := func(ctx context.Context, status *statusNote) (*deps, error) {
		status.set("connecting to etcd at %s", cfg.EtcdEndpoints)
		cli, err := meta.NewClient(cfg.endpoints(), cfg.EtcdDialTimeout, log)
		if err != nil {
			return nil, err
		}
		status.set("connecting to S3 bucket %s", cfg.S3.Bucket)
		store, err := objstore.Open(ctx, "s3://"+cfg.S3.Bucket, cfg.S3, log.With("component", "s3"))
		if err != nil {
			cli.Close()
			return nil, fmt.Errorf("cannot open S3 bucket %s: %w", cfg.S3.Bucket, err)
		}
		lctx, cancel := context.WithTimeout(ctx, cfg.S3.RequestTimeout)
		defer cancel()
		if _, err := store.List(lctx, segment.FlushPrefix+"0/0/"); err != nil {
			cli.Close()
			return nil, fmt.Errorf("cannot reach S3 bucket %s at %q: %w", cfg.S3.Bucket, cfg.S3.Endpoint, err)
		}
		mcfg := meta.DefaultConfig()
		mcfg.Prefix = cfg.EtcdPrefix
		mcfg.SessionTTL = cfg.SessionTTL
		d, err := newDeps(cli, mcfg, store, cfg.serverConfig, log)
		if err != nil {
			return nil, err
		}
		if cfg.EtcdCompaction > 0 {
			cctx, cancel := context.WithCancel(context.Background())
			go d.Meta.RunCompaction(cctx, cfg.EtcdCompaction)
			closeDeps := d.close
			d.close = func() { cancel(); closeDeps() }
		}
		return d, nil
	}
	return runBroker(ctx, cfg.serverConfig, setup, log)
}
