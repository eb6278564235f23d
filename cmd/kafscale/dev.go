package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/netio"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// devConfig is everything `kafscale dev` is configured with; flags default to its fields.
type devConfig struct {
	DataDir            string
	Listen             string
	AdvertisedListener string
	MetricsListen      string
	EtcdListen         string
	LogLevel           string
	LogFormat          string
	ShutdownTimeout    time.Duration
	Broker             broker.Config
	Flush              flush.Config
	Net                netio.Config
	CacheBytes         int64
}

func defaultDevConfig() devConfig {
	return devConfig{
		DataDir:         "data",
		Listen:          "127.0.0.1:9092",
		MetricsListen:   "127.0.0.1:9093",
		EtcdListen:      "127.0.0.1:0",
		LogLevel:        "info",
		LogFormat:       "json",
		ShutdownTimeout: 30 * time.Second,
		Broker:          broker.DefaultConfig(),
		Flush:           flush.DefaultConfig(),
		Net:             netio.DefaultConfig(),
		CacheBytes:      segment.DefaultCacheConfig().CacheBytes,
	}
}

// devFlags binds the flags of `dev` to cfg.
func devFlags(cfg *devConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for embedded etcd data and the local object store")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "Kafka listener host:port")
	fs.StringVar(&cfg.AdvertisedListener, "advertised-listener", cfg.AdvertisedListener, "host:port clients are told to connect to (default: --listen)")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "host:port serving /metrics, /healthz and /readyz")
	fs.StringVar(&cfg.EtcdListen, "etcd-listen", cfg.EtcdListen, "embedded etcd client host:port (port 0 picks a free one)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "json or text")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long shutdown may take to flush pending data")
	fs.Int64Var(&cfg.Flush.FlushBytes, "flush-bytes", cfg.Flush.FlushBytes, "cut a flush object once this many bytes are pending (flush.bytes)")
	fs.DurationVar(&cfg.Flush.FlushInterval, "flush-interval", cfg.Flush.FlushInterval, "cut a flush object once the oldest pending batch is this old (flush.interval)")
	fs.Int64Var(&cfg.Flush.BufferBytes, "buffer-bytes", cfg.Flush.BufferBytes, "bytes appended but not yet committed before produce waits (buffer.bytes)")
	fs.Int64Var(&cfg.CacheBytes, "cache-bytes", cfg.CacheBytes, "object range cache size (cache.bytes)")
	fs.Int64Var(&cfg.Broker.Partition.TailBytes, "tail-bytes", cfg.Broker.Partition.TailBytes, "committed bytes kept in memory per partition for recent fetches")
	fs.IntVar(&cfg.Net.MaxRequestBytes, "max-request-bytes", cfg.Net.MaxRequestBytes, "largest request frame accepted (socket.request.max.bytes)")
	var nodeID, partitions, msgMax int
	nodeID, partitions, msgMax = int(cfg.Broker.NodeID), int(cfg.Broker.DefaultPartitions), int(cfg.Broker.MessageMaxBytes)
	fs.Func("node-id", fmt.Sprintf("broker id (default %d)", nodeID), intFlag(&cfg.Broker.NodeID))
	fs.Func("num-partitions", fmt.Sprintf("partitions of auto-created topics (num.partitions, default %d)", partitions), intFlag(&cfg.Broker.DefaultPartitions))
	fs.Func("message-max-bytes", fmt.Sprintf("default max.message.bytes of topics (default %d)", msgMax), intFlag(&cfg.Broker.MessageMaxBytes))
	fs.BoolVar(&cfg.Broker.AutoCreateTopics, "auto-create-topics", cfg.Broker.AutoCreateTopics, "create topics on first Metadata request (auto.create.topics.enable)")
	fs.DurationVar(&cfg.Broker.CheckpointInterval, "checkpoint-interval", cfg.Broker.CheckpointInterval, "how often changed partitions are checkpointed (checkpoint.interval)")
	return fs
}

func intFlag(dst *int32) func(string) error {
	return func(s string) error {
		var v int32
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("not a 32-bit integer: %q", s)
		}
		*dst = v
		return nil
	}
}

// finish derives and validates what flags leave open.
func (c *devConfig) finish() error {
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	host, port, err := splitHostPort("listen", c.Listen)
	if err != nil {
		return err
	}
	if c.AdvertisedListener == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			return fmt.Errorf("--advertised-listener is required when --listen binds all interfaces (%s)", c.Listen)
		}
		c.AdvertisedListener = c.Listen
	}
	ahost, aport, err := splitHostPort("advertised-listener", c.AdvertisedListener)
	if err != nil {
		return err
	}
	if aport == 0 && port != 0 {
		aport = port
	}
	c.Broker.AdvertisedHost, c.Broker.AdvertisedPort = ahost, aport
	if _, _, err := splitHostPort("metrics-listen", c.MetricsListen); err != nil {
		return err
	}
	if _, _, err := splitHostPort("etcd-listen", c.EtcdListen); err != nil {
		return err
	}
	if c.CacheBytes <= 0 {
		return fmt.Errorf("--cache-bytes must be >0 (set to %d)", c.CacheBytes)
	}
	c.Net.Listen = c.Listen
	if err := c.Net.Validate(); err != nil {
		return err
	}
	if err := c.Flush.Validate(); err != nil {
		return err
	}
	if aport == 0 {
		return nil // resolved once the listener is bound
	}
	return c.Broker.Validate()
}

func runDev(args []string) error {
	cfg := defaultDevConfig()
	fs := devFlags(&cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := cfg.finish(); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serveDev(ctx, cfg, log)
}

// serveDev runs embedded etcd, the local object store and the broker until ctx ends, then
// shuts down in the order that loses nothing: flush pending data and answer its producers,
// stop the listener, write checkpoints, stop etcd.
func serveDev(ctx context.Context, cfg devConfig, log *slog.Logger) error {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("cannot resolve --data-dir %s: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("cannot create --data-dir %s: %w", dataDir, err)
	}
	ecfg := meta.DefaultEmbeddedConfig()
	ecfg.Dir = filepath.Join(dataDir, "etcd")
	ecfg.ClientURL = "http://" + cfg.EtcdListen
	etcd, err := meta.StartEmbedded(ctx, ecfg, log.With("component", "etcd"))
	if err != nil {
		return fmt.Errorf("cannot start embedded etcd in %s: %w", ecfg.Dir, err)
	}
	defer etcd.Close()
	log.Info("embedded etcd serving", "endpoints", etcd.Endpoints, "dir", ecfg.Dir)
	cli, err := meta.NewClient(etcd.Endpoints, 5*time.Second, log)
	if err != nil {
		return err
	}
	defer cli.Close()
	ms := meta.New(cli, meta.DefaultConfig(), log.With("component", "meta"))

	store, err := objstore.Open(ctx, "file://"+filepath.Join(dataDir, "objects"), objstore.DefaultS3Config(), log)
	if err != nil {
		return fmt.Errorf("cannot open the local object store: %w", err)
	}
	ccfg := segment.DefaultCacheConfig()
	ccfg.CacheBytes = cfg.CacheBytes
	cache, err := segment.NewCache(ccfg, store)
	if err != nil {
		return fmt.Errorf("cannot create the object cache: %w", err)
	}
	defer cache.Close()
	return runBroker(ctx, cfg.Broker, cfg.Net, cfg.MetricsListen, cfg.ShutdownTimeout, broker.Deps{
		Meta: ms, Store: store, Cache: cache, Flush: cfg.Flush, Log: log,
	}, log)
}

// runBroker binds the listeners, opens the broker and serves until ctx ends.
func runBroker(ctx context.Context, bcfg broker.Config, ncfg netio.Config, metricsListen string, shutdownTimeout time.Duration, deps broker.Deps, log *slog.Logger) error {
	var b *broker.Broker
	ready := func(ctx context.Context) (bool, string) {
		if b == nil {
			return false, "starting: takeover of partitions not finished"
		}
		if ok, why := b.Ready(); !ok {
			return false, why
		}
		alarms, err := deps.Meta.Alarms(ctx)
		if err != nil {
			return false, fmt.Sprintf("etcd unreachable: %v", err)
		}
		if len(alarms) > 0 {
			return false, fmt.Sprintf("etcd alarms: %v", alarms)
		}
		return true, ""
	}
	srv, maddr, err := startHTTP(metricsListen, ready, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("metrics serving", "addr", maddr.String())

	cid, err := deps.Meta.ClusterID(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the cluster id: %w", err)
	}
	deps.ClusterID = cid
	handler := &lazyHandler{}
	ns := netio.New(ncfg, handler, log.With("component", "netio"))
	if err := ns.Start(); err != nil {
		return fmt.Errorf("cannot listen on --listen %s: %w", ncfg.Listen, err)
	}
	if bcfg.AdvertisedPort == 0 {
		_, port, _ := splitHostPort("listen", ns.Addr().String())
		bcfg.AdvertisedPort = port
	}
	b, err = broker.Open(ctx, bcfg, deps)
	if err != nil {
		_ = ns.Stop(context.Background())
		return err
	}
	handler.set(b)
	log.Info("kafka listener serving", "addr", ns.Addr().String(), "advertised", fmt.Sprintf("%s:%d", bcfg.AdvertisedHost, bcfg.AdvertisedPort), "cluster_id", cid)

	<-ctx.Done()
	log.Info("shutting down: flushing pending data")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := b.Drain(sctx); err != nil {
		log.Warn("cannot flush all pending data before shutdown", "err", err)
	}
	if err := ns.Stop(sctx); err != nil {
		log.Warn("cannot stop the kafka listener cleanly", "err", err)
	}
	if err := b.Close(sctx); err != nil {
		return fmt.Errorf("cannot shut down cleanly: %w", err)
	}
	log.Info("shut down cleanly")
	return nil
}
