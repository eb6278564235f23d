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
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/control"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/netio"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// serverConfig holds the settings `dev` and `broker` share; flags default to its fields.
type serverConfig struct {
	Listen             string
	AdvertisedListener string
	MetricsListen      string
	// Pprof serves Go's runtime profiles under /debug/pprof/ on the metrics listener.
	Pprof           bool
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	// DrainTimeout bounds how long a stopping broker waits for its partitions to move to
	// the other brokers of its cluster before it stops (0: no drain).
	DrainTimeout time.Duration
	Broker       broker.Config
	Flush        flush.Config
	Net          netio.Config
	CacheBytes   int64
	// listenerConfig holds --listeners and the TLS settings (listeners.go).
	listenerConfig
	// Authz holds --authorizer and its settings (authorizer.go).
	Authz authorizerConfig
	// MemoryLimit is the Go runtime's soft memory limit; -1 derives it from the buffer and
	// cache sizes, 0 leaves the runtime's default (or GOMEMLIMIT).
	MemoryLimit int64
}

func defaultServerConfig() serverConfig {
	return serverConfig{
		listenerConfig:  listenerConfig{listenDefault: "127.0.0.1:9092", SASL: defaultSASLConfig()},
		Listen:          "127.0.0.1:9092",
		MetricsListen:   "127.0.0.1:9093",
		LogLevel:        "info",
		LogFormat:       "json",
		ShutdownTimeout: 30 * time.Second,
		DrainTimeout:    20 * time.Second,
		Broker:          broker.DefaultConfig(),
		Flush:           flush.DefaultConfig(),
		Net:             netio.DefaultConfig(),
		CacheBytes:      segment.DefaultCacheConfig().CacheBytes,
		MemoryLimit:     -1,
	}
}

// devConfig is everything `kafscale dev` is configured with.
type devConfig struct {
	serverConfig
	DataDir    string
	EtcdListen string
	// ObjectLatency, if set, wraps the local store in objstore.WithLatency (a simulated S3).
	ObjectLatency string
	// flags are the parsed flags (devFlags): finish tells from them whether
	// --flush-interval or --upload-hedge-quantile (or their KAFSCALE_* variables, set
	// through them) was given; if not, a simulated S3 gets the S3 default rather than the
	// local store's (devFlushInterval, no hedging).
	flags         *flag.FlagSet
	objectLatency objstore.LatencyConfig // parsed from ObjectLatency by finish
	childArgs     []string               // the command line's flags that brokers 1.. share
	// Brokers is how many brokers the command runs (devcluster.go); 1 runs one in this
	// process.
	Brokers int
	// EtcdEndpoints, if set, is an etcd to join instead of embedding one (the other
	// brokers of a dev cluster).
	EtcdEndpoints string
}

func defaultDevConfig() devConfig {
	c := devConfig{serverConfig: defaultServerConfig(), DataDir: "data", EtcdListen: "127.0.0.1:0", Brokers: 1}
	c.Flush.FlushInterval = devFlushInterval
	// A hedge of a local-disk write competes with the write it hedges for the same disk;
	// with --object-latency the S3 default applies (finish).
	c.Flush.HedgeQuantile = 0
	return c
}

// devFlushInterval is `kafscale dev`'s --flush-interval on its local directory store. The
// interval bounds the PUTs per second, which cost money on S3 (hence 100 ms for `kafscale
// broker` and for dev with --object-latency); a local file costs nothing, and an
// application that waits for each acknowledgement (`producer.send(record).get()`) waits
// about one interval per record: 1 ms keeps its round trip within a few milliseconds
// (docs/benchmarks.md, "Synchronous producers").
const devFlushInterval = time.Millisecond

// serverFlags binds the shared flags to cfg.
func serverFlags(fs *flag.FlagSet, cfg *serverConfig) {
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "Kafka listener host:port")
	fs.StringVar(&cfg.AdvertisedListener, "advertised-listener", cfg.AdvertisedListener, "host:port clients are told to connect to (default: --listen)")
	listenerFlags(fs, &cfg.listenerConfig)
	authorizerFlags(fs, &cfg.Authz)
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "host:port serving /metrics, /healthz and /readyz")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "also serve Go's CPU, heap and other profiles under /debug/pprof/ on --metrics-listen (off: they reveal internals and cost CPU while taken)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "json or text")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long shutdown may take to flush pending data")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "on SIGTERM, how long to wait for this broker's partitions to move to the other brokers of the cluster before stopping (0: do not drain)")
	fs.Int64Var(&cfg.Flush.FlushBytes, "flush-bytes", cfg.Flush.FlushBytes, "cut a flush object once this many bytes are pending (flush.bytes)")
	fs.DurationVar(&cfg.Flush.FlushInterval, "flush-interval", cfg.Flush.FlushInterval, "cut a flush object one interval after the previous cut: at most one object per interval below --flush-bytes (flush.interval)")
	fs.Int64Var(&cfg.Flush.BufferBytes, "buffer-bytes", cfg.Flush.BufferBytes, "bytes appended but not yet committed before produce waits (buffer.bytes)")
	fs.Int64Var(&cfg.MemoryLimit, "memory-limit", cfg.MemoryLimit, "Go soft memory limit in bytes (-1: --buffer-bytes + --cache-bytes + --merge-batch-bytes + --compaction-buffer-bytes + --tail-total-bytes + 192 MiB + 16 KiB per partition led; 0: runtime default or GOMEMLIMIT)")
	fs.DurationVar(&cfg.Flush.AttemptTimeout, "flush-attempt-timeout", cfg.Flush.AttemptTimeout, "bound of one upload or commit attempt of a flush object; --gc-grace must be at least twice it")
	fs.IntVar(&cfg.Flush.UploadConcurrency, "upload-concurrency", cfg.Flush.UploadConcurrency, "flush objects uploading at once (commits stay in flush order)")
	fs.Float64Var(&cfg.Flush.HedgeQuantile, "upload-hedge-quantile", cfg.Flush.HedgeQuantile, "hedge a flush object's PUT that has not answered after this quantile of recent PUT latencies with a second, identical PUT; the first to succeed wins (about 1 - q more PUTs; 0: off; dev on its local store: 0)")
	fs.DurationVar(&cfg.Flush.HedgeMinDelay, "upload-hedge-min-delay", cfg.Flush.HedgeMinDelay, "shortest wait before a flush object's PUT is hedged, whatever --upload-hedge-quantile says")
	fs.Int64Var(&cfg.CacheBytes, "cache-bytes", cfg.CacheBytes, "object range cache size (cache.bytes)")
	fs.Int64Var(&cfg.Broker.Partition.TailBytes, "tail-bytes", cfg.Broker.Partition.TailBytes, "committed bytes kept in memory per partition for recent fetches")
	fs.Int64Var(&cfg.Broker.TailTotalBytes, "tail-total-bytes", cfg.Broker.TailTotalBytes, "committed bytes kept in memory for recent fetches by all partitions together: the least recently written partitions lose theirs first (0: none)")
	fs.Int64Var(&cfg.Broker.Partition.ReadAheadBytes, "read-ahead-bytes", cfg.Broker.Partition.ReadAheadBytes, "bytes of a partition's following object ranges loaded into the cache in the background after a read from objects (0: none)")
	fs.IntVar(&cfg.Net.MaxRequestBytes, "max-request-bytes", cfg.Net.MaxRequestBytes, "largest request frame accepted (socket.request.max.bytes)")
	limitFlags(fs, &cfg.Net)
	fs.Func("broker-id", fmt.Sprintf("broker id, or a StatefulSet pod name such as kafscale-2 whose ordinal is the id (KAFSCALE_BROKER_ID; default %d)", cfg.Broker.NodeID), brokerIDFlag(&cfg.Broker.NodeID))
	fs.Func("node-id", "the same as --broker-id (Kafka's node.id)", brokerIDFlag(&cfg.Broker.NodeID))
	fs.Func("num-partitions", fmt.Sprintf("partitions of auto-created topics (num.partitions, default %d)", cfg.Broker.DefaultPartitions), intFlag(&cfg.Broker.DefaultPartitions))
	fs.Func("max-partitions", fmt.Sprintf("most partitions this broker leads; creating more answers POLICY_VIOLATION (default %d)", cfg.Broker.MaxPartitions), intFlag(&cfg.Broker.MaxPartitions))
	fs.Func("message-max-bytes", fmt.Sprintf("default max.message.bytes of topics (default %d)", cfg.Broker.MessageMaxBytes), intFlag(&cfg.Broker.MessageMaxBytes))
	fs.BoolVar(&cfg.Broker.AutoCreateTopics, "auto-create-topics", cfg.Broker.AutoCreateTopics, "create topics on first Metadata request (auto.create.topics.enable)")
	fs.DurationVar(&cfg.Broker.CheckpointInterval, "checkpoint-interval", cfg.Broker.CheckpointInterval, "how often changed partitions are checkpointed (checkpoint.interval)")
	fs.DurationVar(&cfg.Broker.RetentionCheckInterval, "retention-check-interval", cfg.Broker.RetentionCheckInterval, "how often retention.ms and retention.bytes are applied (log.retention.check.interval.ms)")
	fs.DurationVar(&cfg.Broker.BucketMetadataInterval, "bucket-metadata-interval", cfg.Broker.BucketMetadataInterval, "how often committed group offsets are copied to the bucket for kafscale fsck --rebuild (docs/fsck.md)")
	fs.DurationVar(&cfg.Broker.LoadReportInterval, "load-report-interval", cfg.Broker.LoadReportInterval, "how often the broker reports its partitions' recent bytes in, which the controller balances (one etcd write each while any partition receives data)")
	fs.DurationVar(&cfg.Broker.Lag.Interval, "lag-interval", cfg.Broker.Lag.Interval, "how often the group coordinator computes consumer lag for kafscale_consumer_group_lag")
	fs.IntVar(&cfg.Broker.Lag.MaxPartitions, "lag-max-partitions", cfg.Broker.Lag.MaxPartitions, "most group x partition lag series exported; groups past it are left out whole (0: no lag export)")
	fs.IntVar(&cfg.Broker.TopicMetrics.MaxTopics, "metrics-max-topics", cfg.Broker.TopicMetrics.MaxTopics, `most topics with traffic series of their own; the traffic of others is exported under topic="(other)"`)
	fs.IntVar(&cfg.Broker.Quota.Samples, "quota-window-num", cfg.Broker.Quota.Samples, "windows a client's byte and request rates are measured over for its quotas (quota.window.num)")
	fs.DurationVar(&cfg.Broker.Quota.Window, "quota-window-size", cfg.Broker.Quota.Window, "length of one quota window (quota.window.size.seconds)")
	g := &cfg.Broker.Group
	fs.DurationVar(&g.InitialRebalanceDelay, "group-initial-rebalance-delay", g.InitialRebalanceDelay, "wait for more members before the first rebalance of a group (group.initial.rebalance.delay.ms)")
	fs.DurationVar(&g.MinSessionTimeout, "group-min-session-timeout", g.MinSessionTimeout, "smallest session timeout a member may ask for (group.min.session.timeout.ms)")
	fs.DurationVar(&g.MaxSessionTimeout, "group-max-session-timeout", g.MaxSessionTimeout, "largest session timeout a member may ask for (group.max.session.timeout.ms)")
	fs.IntVar(&g.MaxSize, "group-max-size", g.MaxSize, "most members of one group (group.max.size)")
	fs.IntVar(&g.OffsetMetadataMaxBytes, "offset-metadata-max-bytes", g.OffsetMetadataMaxBytes, "largest committed-offset metadata (offset.metadata.max.bytes)")
	fs.IntVar(&g.MaxGroupIDBytes, "group-id-max-bytes", g.MaxGroupIDBytes, "longest group id accepted")
	fs.DurationVar(&g.ConsumerSessionTimeout, "group-consumer-session-timeout", g.ConsumerSessionTimeout, "KIP-848 member session timeout (group.consumer.session.timeout.ms)")
	fs.DurationVar(&g.ConsumerHeartbeatInterval, "group-consumer-heartbeat-interval", g.ConsumerHeartbeatInterval, "KIP-848 heartbeat interval (group.consumer.heartbeat.interval.ms)")
	fs.DurationVar(&g.OffsetsRetention, "offsets-retention", g.OffsetsRetention, "a group without members loses its committed offsets this long after it was last used (offsets.retention.minutes)")
	fs.DurationVar(&g.OffsetsRetentionCheckInterval, "offsets-retention-check-interval", g.OffsetsRetentionCheckInterval, "how often expired committed offsets are deleted (offsets.retention.check.interval.ms)")
	fs.DurationVar(&cfg.Broker.Partition.ProducerExpiration, "producer-id-expiration", cfg.Broker.Partition.ProducerExpiration, "drop an idempotent producer's state once its last batch is this old (producer.id.expiration.ms)")
	fs.Int64Var(&cfg.Broker.Merge.SegmentBytes, "merge-bytes", cfg.Broker.Merge.SegmentBytes, "target size of a merged per-partition segment (merge.bytes)")
	fs.DurationVar(&cfg.Broker.Merge.Age, "merge-age", cfg.Broker.Merge.Age, "merge flush data older than this even below --merge-bytes (merge.age)")
	fs.DurationVar(&cfg.Broker.Merge.Interval, "merge-interval", cfg.Broker.Merge.Interval, "how often partitions are checked for merging")
	fs.Int64Var(&cfg.Broker.Merge.BatchBytes, "merge-batch-bytes", cfg.Broker.Merge.BatchBytes, "flush data a merge holds in memory (merge.batch.bytes): the partitions due merge a window of flush objects at a time, each object read once, a window holding at most this many bytes of their extents")
	fs.Int64Var(&cfg.Broker.Merge.ChunkBytes, "merge-chunk-bytes", cfg.Broker.Merge.ChunkBytes, "index granularity of merged segments (one ranged GET per chunk)")
	fs.DurationVar(&cfg.Broker.Merge.GCInterval, "gc-interval", cfg.Broker.Merge.GCInterval, "how often unneeded metadata entries and objects are deleted")
	fs.DurationVar(&cfg.Broker.Merge.GCGrace, "gc-grace", cfg.Broker.Merge.GCGrace, "age before an unreferenced object is deleted (gc.grace)")
	fs.Int64Var(&cfg.Broker.Merge.CompactionBufferBytes, "compaction-buffer-bytes", cfg.Broker.Merge.CompactionBufferBytes, "memory for the key map of one log compaction pass (log.cleaner.dedupe.buffer.size)")
}

// devFlags binds the flags of `dev` to cfg.
func devFlags(cfg *devConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for embedded etcd data and the local object store")
	fs.StringVar(&cfg.EtcdListen, "etcd-listen", cfg.EtcdListen, "embedded etcd client host:port (port 0 picks a free one)")
	fs.IntVar(&cfg.Brokers, "brokers", cfg.Brokers, "brokers to run: broker i listens on --listen's port + i and serves metrics on --metrics-listen's port + i (which defaults to 100 above --listen's with more than one broker); brokers 1.. run as child processes sharing the embedded etcd and --data-dir's object store")
	fs.StringVar(&cfg.EtcdEndpoints, "etcd-endpoints", cfg.EtcdEndpoints, "join this etcd (comma-separated client URLs) instead of embedding one: another dev broker's cluster")
	fs.StringVar(&cfg.ObjectLatency, "object-latency", cfg.ObjectLatency, "add simulated S3 latency to the local store: a profile (s3-standard, s3-published, s3-express) or put=p50:30ms,p99:150ms;get=...;list=...;delete=... (default none)")
	serverFlags(fs, &cfg.serverConfig)
	cfg.flags = fs
	return fs
}

func intFlag(dst *int32) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fmt.Errorf("not a 32-bit integer: %q", s)
		}
		*dst = int32(v)
		return nil
	}
}

// brokerIDFlag parses a broker id: a number, or a StatefulSet pod name ending in
// -<ordinal> (what Kubernetes puts in metadata.name), whose ordinal is the id.
func brokerIDFlag(dst *int32) func(string) error {
	return func(s string) error {
		num := s
		if i := strings.LastIndexByte(s, '-'); i > 0 {
			num = s[i+1:]
		}
		v, err := strconv.ParseInt(num, 10, 32)
		if err != nil || (num != s && v < 0) {
			return fmt.Errorf("not a broker id or a pod name ending in -<ordinal>: %q", s)
		}
		*dst = int32(v)
		return nil
	}
}

// finish derives and validates what the shared flags leave open.
func (c *serverConfig) finish() error {
	if err := c.finishListeners(); err != nil {
		return err
	}
	if err := c.Authz.finish(); err != nil {
		return err
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
	if c.CacheBytes <= 0 {
		return fmt.Errorf("--cache-bytes must be >0 (set to %d)", c.CacheBytes)
	}
	if r := c.Broker.Partition.ReadAheadBytes; r < 0 || r > c.CacheBytes/4 {
		return fmt.Errorf("--read-ahead-bytes must be 0-%d, a quarter of --cache-bytes (set to %d)", c.CacheBytes/4, r)
	}
	if c.MemoryLimit < -1 {
		return fmt.Errorf("--memory-limit must be -1, 0 or a byte count (set to %d)", c.MemoryLimit)
	}
	if c.DrainTimeout < 0 {
		return fmt.Errorf("--drain-timeout must be >= 0 (set to %s)", c.DrainTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout must be >0 (set to %s)", c.ShutdownTimeout)
	}
	if n := c.Net.MaxRequestBytes; n <= 0 || n > 1<<31-1 {
		return fmt.Errorf("--max-request-bytes must be in (0, 2^31) (set to %d)", n)
	}
	if err := validateLimits(&c.Net); err != nil {
		return err
	}
	c.Net.Listen = c.Listen
	if err := c.Net.Validate(); err != nil {
		return err
	}
	if err := c.Flush.Validate(); err != nil {
		return err
	}
	// Every commit of an object lands within gc.grace/2 of its upload (the flusher caps its
	// attempts there); one attempt already sent may still be applied by etcd up to an
	// attempt timeout later, which must stay inside the other half of the grace, before GC
	// may delete the object (docs/object-lifecycle.md, "Invariants").
	if g, a := c.Broker.Merge.GCGrace, c.Flush.AttemptTimeout; g < 2*a {
		return fmt.Errorf("--gc-grace must be at least twice --flush-attempt-timeout (set to %s, attempt timeout %s)", g, a)
	}
	if aport == 0 {
		return nil // resolved once the listener is bound
	}
	return c.Broker.Validate()
}

// memoryMargin is what the derived soft memory limit allows over the memory the settings
// bound (buffer, cache, a merge window, a compaction pass's key map and the tails).
const memoryMargin = 192 << 20

// memoryLimit returns the soft memory limit to set, or 0 for none. GOMEMLIMIT, when set,
// wins over the derived default.
func (c *serverConfig) memoryLimit() int64 {
	switch {
	case c.MemoryLimit > 0:
		return c.MemoryLimit
	case c.MemoryLimit == 0 || os.Getenv("GOMEMLIMIT") != "":
		return 0
	}
	// A merge window (--merge-batch-bytes) and a compaction pass's key map
	// (--compaction-buffer-bytes) are held in full while merging and compacting, whatever
	// the produce load, so they are counted on their own rather than left to the margin,
	// which they would nearly fill; so are the in-memory tails (--tail-total-bytes), which
	// fill up as soon as enough partitions are written. 192 MiB over the consumers the
	// settings bound covers the runtime, segment building and embedded etcd under maximum
	// load.
	// Measured at maximum produce rate with defaults, before the window and key map were
	// counted (2026-12-02, ~700,000 records/s): RSS 730 MiB with buffer + cache + 192 MiB,
	// against 760-765 MiB with a 224 MiB margin at the same throughput, and ~1 GiB with
	// the first 512 MiB margin (docs/benchmarks.md). Partitions add to it as the broker
	// leads them (partitionMemoryLimit).
	return c.Flush.BufferBytes + c.CacheBytes + c.Broker.Merge.BatchBytes + c.Broker.Merge.CompactionBufferBytes + c.Broker.TailTotalBytes + memoryMargin
}

// partitionMemoryLimit returns the soft memory limit for a broker leading n partitions:
// base (memoryLimit) plus what each was measured to cost, broker.PartitionMemoryBytes, so
// that a broker at --max-partitions stays within its limit while one with few partitions
// keeps the tighter limit its maximum load was measured with (docs/operations.md).
func partitionMemoryLimit(base, n int64) int64 { return base + n*broker.PartitionMemoryBytes }

// finish validates the dev flags.
func (c *devConfig) finish() error {
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if _, _, err := splitHostPort("etcd-listen", c.EtcdListen); err != nil {
		return err
	}
	if c.Brokers < 1 || c.Brokers > maxDevBrokers {
		return fmt.Errorf("--brokers must be 1-%d (set to %d)", maxDevBrokers, c.Brokers)
	}
	if c.Brokers > 1 && c.Listeners != "" {
		return errors.New("--listeners works with --brokers 1 only for now (each child broker would need its own ports)")
	}
	if c.Brokers > 1 && c.EtcdEndpoints != "" {
		return errors.New("--brokers and --etcd-endpoints exclude each other: the first broker of a dev cluster embeds the etcd the others join")
	}
	if c.Brokers > 1 {
		if err := c.clusterPorts(); err != nil {
			return err
		}
	}
	for _, ep := range splitList(c.EtcdEndpoints) {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			return fmt.Errorf("--etcd-endpoints entries must be http:// or https:// URLs (got %q)", ep)
		}
	}
	if c.ObjectLatency != "" {
		lc, err := objstore.ParseLatency(c.ObjectLatency)
		if err != nil {
			return fmt.Errorf("--object-latency is invalid (set to %q): %w", c.ObjectLatency, err)
		}
		c.objectLatency = lc
		given := map[string]bool{}
		if c.flags != nil {
			c.flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
		}
		if !given["flush-interval"] {
			c.Flush.FlushInterval = flush.DefaultConfig().FlushInterval
		}
		if !given["upload-hedge-quantile"] {
			c.Flush.HedgeQuantile = flush.DefaultConfig().HedgeQuantile
		}
	}
	return c.serverConfig.finish()
}

// parseFlags parses args, applies KAFSCALE_* env vars and runs finish.
func parseFlags(fs *flag.FlagSet, args []string, finish func() error) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs); err != nil {
		return false, err
	}
	return false, finish()
}

func runDev(args []string) error {
	cfg := defaultDevConfig()
	fs := devFlags(&cfg)
	return runServer(fs, args, &cfg.serverConfig, cfg.finish, func(ctx context.Context, log *slog.Logger) error {
		if cfg.Brokers > 1 {
			cfg.childArgs = devChildArgs(fs, args)
		}
		return serveDev(ctx, cfg, log)
	})
}

// runServer parses a server command's flags (then KAFSCALE_* variables), builds its logger
// and runs serve until SIGINT or SIGTERM.
func runServer(fs *flag.FlagSet, args []string, cfg *serverConfig, finish func() error, serve func(context.Context, *slog.Logger) error) error {
	if help, err := parseFlags(fs, args, finish); help || err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	if err := raiseOpenFiles(cfg.Net.MaxConnections, log); err != nil {
		return err
	}
	if limit := cfg.memoryLimit(); limit > 0 {
		// Without a limit the heap grows to twice its live data before a collection, which
		// would put RSS far above what --buffer-bytes and --cache-bytes promise.
		debug.SetMemoryLimit(limit)
		log.Info("memory limit set", "bytes", limit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, log)
}

// serveDev runs embedded etcd, the local object store and the broker until ctx ends.
func serveDev(ctx context.Context, cfg devConfig, log *slog.Logger) (err error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("cannot resolve --data-dir %s: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("cannot create --data-dir %s: %w", dataDir, err)
	}
	endpoints := splitList(cfg.EtcdEndpoints)
	if len(endpoints) == 0 {
		ecfg := meta.DefaultEmbeddedConfig()
		ecfg.Dir = filepath.Join(dataDir, "etcd")
		ecfg.ClientURL = "http://" + cfg.EtcdListen
		etcd, err := meta.StartEmbedded(ctx, ecfg, log.With("component", "etcd"))
		if err != nil {
			return fmt.Errorf("cannot start embedded etcd in %s: %w", ecfg.Dir, err)
		}
		defer etcd.Close()
		log.Info("embedded etcd serving", "endpoints", etcd.Endpoints, "dir", ecfg.Dir)
		endpoints = etcd.Endpoints
	}
	if cfg.Brokers > 1 {
		others, serr := startDevBrokers(cfg, endpoints, log)
		if serr != nil {
			return serr
		}
		// The other brokers stop first, one at a time, each draining to those still
		// serving, then this one (with nowhere to drain to, at once); etcd, deferred above,
		// closes last.
		parent := ctx
		bctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan struct{})
		var childErr error // written before stopped closes
		go func() {
			defer close(stopped)
			select {
			case <-parent.Done():
			case <-bctx.Done():
			case childErr = <-others.failed:
				log.Error("stopping the dev cluster: a broker failed", "err", childErr)
			}
			others.stop()
			cancel()
		}()
		defer func() {
			cancel()
			<-stopped
			if childErr != nil && err == nil {
				err = fmt.Errorf("dev cluster: %w", childErr)
			}
		}()
		ctx = bctx
	}
	setup := func(ctx context.Context, status *statusNote) (*deps, error) {
		cli, err := meta.NewClient(endpoints, 5*time.Second, log)
		if err != nil {
			return nil, err
		}
		store, err := objstore.Open(ctx, "file://"+filepath.Join(dataDir, "objects"), objstore.DefaultS3Config(), log)
		if err != nil {
			cli.Close()
			return nil, fmt.Errorf("cannot open the local object store: %w", err)
		}
		if cfg.ObjectLatency != "" {
			store = objstore.WithLatency(store, cfg.objectLatency)
			log.Info("local object store has simulated latency", "object_latency", cfg.ObjectLatency)
		}
		return newDeps(cli, meta.DefaultConfig(), store, cfg.serverConfig, log)
	}
	return runBroker(ctx, cfg.serverConfig, setup, log)
}

// deps are the connected parts a broker runs on, and how to release them.
type deps struct {
	broker.Deps
	close func()
}

func newDeps(cli *clientv3.Client, mcfg meta.Config, store objstore.Store, cfg serverConfig, log *slog.Logger) (*deps, error) {
	// Counted here, where `dev` and `broker` meet, so every store's requests are counted
	// the same way (docs/operations.md, kafscale_object_*).
	store = objstore.Counted(store)
	ccfg := segment.DefaultCacheConfig()
	ccfg.CacheBytes = cfg.CacheBytes
	cache, err := segment.NewCache(ccfg, store)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("cannot create the object cache: %w", err)
	}
	ms := meta.New(cli, mcfg, log.With("component", "meta"))
	var led func(int64)
	if base := cfg.memoryLimit(); base > 0 {
		led = func(n int64) { debug.SetMemoryLimit(partitionMemoryLimit(base, n)) }
	}
	return &deps{
		Deps:  broker.Deps{Meta: ms, Store: store, Cache: cache, Flush: cfg.Flush, Log: log, LedPartitions: led},
		close: func() { cache.Close(); cli.Close() },
	}, nil
}

// statusNote is what /readyz says while the broker is not up yet.
type statusNote struct{ v atomic.Value }

func (s *statusNote) set(format string, args ...any) { s.v.Store(fmt.Sprintf(format, args...)) }
func (s *statusNote) get() string {
	v, _ := s.v.Load().(string)
	return v
}

// runBroker serves /readyz at once, connects the broker's parts with setup (retrying with a
// log line and a /readyz reason while etcd or the object store is unreachable; never
// substituting anything), binds the Kafka listener, opens the broker and serves until ctx
// ends. Shutdown loses nothing acknowledged: flush pending data and answer its producers,
// stop the listener, write checkpoints, release the session.
func runBroker(ctx context.Context, cfg serverConfig, setup func(context.Context, *statusNote) (*deps, error), log *slog.Logger) error {
	var status statusNote
	status.set("starting")
	var bp atomic.Pointer[broker.Broker]
	var metaStore atomic.Pointer[meta.Store]
	ready := func(ctx context.Context) (bool, string) {
		b := bp.Load()
		if b == nil {
			return false, status.get()
		}
		if ok, why := b.Ready(); !ok {
			return false, why
		}
		if why := b.Health(); why != "" {
			return false, why
		}
		alarms, err := metaStore.Load().Alarms(ctx)
		if err != nil {
			return false, fmt.Sprintf("etcd unreachable: %v", err)
		}
		if len(alarms) > 0 {
			return false, fmt.Sprintf("etcd alarms: %v", alarms)
		}
		return true, ""
	}
	gsrv := control.NewServer(controlBackend{bp: &bp, id: cfg.Broker.NodeID, ready: ready})
	defer gsrv.Stop()
	srv, maddr, err := startHTTP(cfg.MetricsListen, cfg.Pprof, ready, gsrv, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("metrics serving", "addr", maddr.String())

	var d *deps
	for backoff := 500 * time.Millisecond; ; backoff = min(backoff*2, 10*time.Second) {
		d, err = setup(ctx, &status)
		if err == nil {
			break
		}
		status.set("cannot connect: %v", err)
		log.Error("cannot connect to etcd or the object store; retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped before connecting: %w", err)
		case <-time.After(backoff):
		}
	}
	defer d.close()
	metaStore.Store(d.Meta)
	status.set("reading the cluster id")
	cid, err := d.Meta.ClusterID(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the cluster id: %w", err)
	}
	d.ClusterID = cid
	if d.SASL, err = cfg.saslServer(d.Meta, log); err != nil {
		return err
	}
	d.Authorizer = cfg.Authz.authorizer()
	handler := &lazyHandler{}
	defer handler.shutdown()
	ncfg, err := cfg.listenerTLS(cfg.Net, log)
	if err != nil {
		return err
	}
	ns := netio.New(ncfg, handler, log) // netio names itself (component=netio)
	if err := ns.Start(); err != nil {
		return fmt.Errorf("cannot listen on --listen %s: %w", cfg.Net.Listen, err)
	}
	bcfg := cfg.Broker
	if bcfg.AdvertisedPort == 0 {
		_, port, _ := splitHostPort("listen", ns.Addr().String())
		bcfg.AdvertisedPort = port
	}
	cfg.resolveListenerPorts(&bcfg, ns)
	defer func() { handler.shutdown(); _ = ns.Stop(context.Background()) }()
	for {
		b, err := openBroker(ctx, bcfg, d.Deps, &status, log)
		if err != nil {
			return err
		}
		bp.Store(b)
		handler.set(b)
		log.Info("kafka listener serving", "addr", ns.Addr().String(), "advertised", fmt.Sprintf("%s:%d", bcfg.AdvertisedHost, bcfg.AdvertisedPort), "listeners", b.AdvertisedListeners(), "cluster_id", cid)
		select {
		case <-b.SessionLost():
			handler.set(nil)
			bp.Store(nil)
			if b.Replaced() {
				// Another process registered this broker id (a replacement pod while this
				// one still runs): it owns the id now. Registering again would fence it in
				// turn, so this process stops for good.
				status.set("replaced by another process with broker id %d", bcfg.NodeID)
				b.BeginShutdown()
				cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
				_ = b.Close(cctx)
				cancel()
				return fmt.Errorf("another process registered broker id %d; this process stops (two processes must not share a broker id)", bcfg.NodeID)
			}
			// The lease ended (etcd unreachable for a TTL): another process may now be
			// assigned our partitions; our commits are fenced from the moment it takes
			// them. Close this incarnation (pending data still commits under the old fence
			// if nobody moved it) and register a new one, which takes the partitions over
			// afresh, as a restarted process would, unless another process took the id.
			log.Error("etcd session lost; closing this incarnation and registering a new one")
			status.set("etcd session lost: registering a new incarnation")
			cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			if err := b.Close(cctx); err != nil {
				log.Warn("cannot close the lost incarnation cleanly", "err", err)
			}
			cancel()
			bcfg.Rejoin = b.Lease()
			continue
		case <-ctx.Done():
		}
		if cfg.DrainTimeout > 0 {
			// Still serving: clients follow the partitions as they move.
			dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
			if err := b.DrainSelf(dctx); err != nil {
				log.Warn("cannot drain before shutdown; stopping anyway", "err", err)
			}
			cancel()
		}
		log.Info("shutting down: flushing pending data")
		handler.shutdown()
		// Handlers at work (whatever timeout their clients asked for) end now, or stopping
		// the listener below would wait for them past the shutdown's deadline.
		b.BeginShutdown()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
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
		break
	}
	log.Info("shut down cleanly")
	return nil
}

// controlBackend is what BrokerControl acts on: the current incarnation of the broker.
type controlBackend struct {
	bp    *atomic.Pointer[broker.Broker]
	id    int32
	ready readiness
}

func (c controlBackend) Current() *broker.Broker                  { return c.bp.Load() }
func (c controlBackend) ID() int32                                { return c.id }
func (c controlBackend) Ready(ctx context.Context) (bool, string) { return c.ready(ctx) }

// openBroker registers a new incarnation and takes its partitions over, retrying with
// backoff (and a /readyz reason) while etcd or the object store fails.
func openBroker(ctx context.Context, cfg broker.Config, d broker.Deps, status *statusNote, log *slog.Logger) (*broker.Broker, error) {
	for backoff := 500 * time.Millisecond; ; backoff = min(backoff*2, 10*time.Second) {
		status.set("taking over partitions")
		b, err := broker.Open(ctx, cfg, d)
		if err == nil {
			return b, nil
		}
		var bad *broker.ConfigError
		if errors.As(err, &bad) {
			return nil, err
		}
		status.set("cannot take over partitions: %v", err)
		log.Error("cannot open the broker; retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped before the broker opened: %w", err)
		case <-time.After(backoff):
		}
	}
}
