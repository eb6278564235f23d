package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
)

// EmbeddedConfig holds the settings of an in-process etcd (for `kafscale dev`
// and tests).
type EmbeddedConfig struct {
	// Dir holds etcd's data; required. Reusing it keeps the data.
	Dir string
	// Name is the member name (default "kafscale").
	Name string
	// ClientURL is where clients connect (default http://127.0.0.1:2379); the
	// scheme may be omitted. Port 0 picks a free port; Embedded.Endpoints
	// tells which.
	ClientURL string
	// PeerURL is the raft peer listener (default http://127.0.0.1:0, a free
	// port: a single member never receives peer traffic).
	PeerURL string
	// AutoCompactionMode is "periodic" or "revision" (default "periodic").
	AutoCompactionMode string
	// AutoCompactionRetention is how much history compaction keeps (default
	// "5m" in periodic mode).
	AutoCompactionRetention string
	// RaftLogEntries is how many applied raft entries etcd keeps in memory past its
	// latest in-memory snapshot (etcd's --snapshot-catchup-entries, default 5,000 there,
	// 10 here). They serve only followers catching up, which a single member has none
	// of, and they hold whole requests: with thousands of partitions an entry that
	// rewrites assignments/<broker-id> is hundreds of KiB, so etcd's default kept
	// hundreds of MiB of old requests (docs/operations.md, "Partitions and memory").
	RaftLogEntries uint64
	// QuotaBackendBytes is the database size at which etcd raises NOSPACE and
	// refuses writes (default 2 GiB).
	QuotaBackendBytes int64
	// StartTimeout bounds the wait for the server to be ready (default 60s).
	StartTimeout time.Duration
	// LogLevel is the lowest level of etcd's own log entries passed on to the
	// logger: "debug", "info", "warn" or "error" (default "warn").
	LogLevel string
	// UnsafeNoFsync skips fsync; data may be lost on a crash. Tests only.
	UnsafeNoFsync bool
}

// DefaultEmbeddedConfig returns the default embedded-etcd settings, Dir unset.
func DefaultEmbeddedConfig() EmbeddedConfig {
	return EmbeddedConfig{
		Name:                    "kafscale",
		ClientURL:               "http://127.0.0.1:2379",
		PeerURL:                 "http://127.0.0.1:0",
		AutoCompactionMode:      "periodic",
		AutoCompactionRetention: "5m",
		RaftLogEntries:          10,
		QuotaBackendBytes:       2 << 30,
		StartTimeout:            60 * time.Second,
		LogLevel:                "warn",
	}
}

// Embedded is a running in-process etcd server.
type Embedded struct {
	// Endpoints are the client URLs to pass to NewClient.
	Endpoints []string
	etcd      *embed.Etcd
	quiet     *atomic.Bool // set by Close: shutdown noise goes to debug
}

// StartEmbedded starts an etcd server in this process and returns once it
// serves clients (or fails after cfg.StartTimeout or when ctx ends). Zero
// fields of cfg take their defaults. etcd's logging goes to log at
// cfg.LogLevel and above.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig, log *slog.Logger) (*Embedded, error) {
	cfg = embeddedDefaults(cfg)
	if cfg.Dir == "" {
		return nil, errors.New("cannot start embedded etcd: no data directory")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clientURL, err := parseListenURL(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded etcd: client URL: %w", err)
	}
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded etcd: log level %q: %w", cfg.LogLevel, err)
	}
	peerURL, err := parseListenURL(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded etcd: peer URL: %w", err)
	}
	// A port picked here may be taken by someone else before etcd binds it;
	// pick again in that case.
	const attempts = 3
	for i := 1; ; i++ {
		e, picked, err := startEmbeddedOnce(ctx, cfg, clientURL, peerURL, level, log)
		if err == nil {
			return e, nil
		}
		if !picked || i == attempts || !isAddrInUse(err) {
			return nil, err
		}
		log.Warn("embedded etcd port taken; picking another", "err", err)
	}
}

func startEmbeddedOnce(ctx context.Context, cfg EmbeddedConfig, clientURL, peerURL url.URL, level zapcore.Level, log *slog.Logger) (*Embedded, bool, error) {
	var picked [2]bool
	var err error
	if clientURL, picked[0], err = withFreePort(clientURL); err != nil {
		return nil, false, fmt.Errorf("cannot start embedded etcd: %w", err)
	}
	if peerURL, picked[1], err = withFreePort(peerURL); err != nil {
		return nil, false, fmt.Errorf("cannot start embedded etcd: %w", err)
	}
	anyPicked := picked[0] || picked[1]
	quiet := new(atomic.Bool)

	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.Dir
	ec.ListenClientUrls = []url.URL{clientURL}
	ec.AdvertiseClientUrls = []url.URL{clientURL}
	ec.ListenPeerUrls = []url.URL{peerURL}
	ec.AdvertisePeerUrls = []url.URL{peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(cfg.Name)
	ec.AutoCompactionMode = cfg.AutoCompactionMode
	ec.AutoCompactionRetention = cfg.AutoCompactionRetention
	ec.QuotaBackendBytes = cfg.QuotaBackendBytes
	ec.SnapshotCatchUpEntries = cfg.RaftLogEntries
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	ec.Logger = "zap"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(log.With("component", "etcd"), level, quiet))

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, anyPicked, fmt.Errorf("cannot start embedded etcd in %s (client %s, peer %s): %w",
			cfg.Dir, clientURL.String(), peerURL.String(), err)
	}
	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		quiet.Store(true)
		e.Close()
		return nil, false, fmt.Errorf("cannot start embedded etcd in %s: %w", cfg.Dir, err)
	case <-timer.C:
		quiet.Store(true)
		e.Server.Stop()
		e.Close()
		return nil, false, fmt.Errorf("cannot start embedded etcd in %s: not ready after %s", cfg.Dir, cfg.StartTimeout)
	case <-ctx.Done():
		quiet.Store(true)
		e.Server.Stop()
		e.Close()
		return nil, false, fmt.Errorf("cannot start embedded etcd in %s: %w", cfg.Dir, ctx.Err())
	}
	eps := make([]string, 0, len(e.Clients))
	for _, l := range e.Clients {
		eps = append(eps, clientURL.Scheme+"://"+l.Addr().String())
	}
	log.Info("embedded etcd ready", "dir", cfg.Dir, "endpoints", eps)
	return &Embedded{Endpoints: eps, etcd: e, quiet: quiet}, anyPicked, nil
}

// Err reports a fatal server error after start; the server is unusable then.
func (e *Embedded) Err() <-chan error { return e.etcd.Err() }

// Close stops the server gracefully and waits until it has stopped.
func (e *Embedded) Close() {
	e.quiet.Store(true)
	e.etcd.Close()
}

func embeddedDefaults(cfg EmbeddedConfig) EmbeddedConfig {
	def := DefaultEmbeddedConfig()
	if cfg.Name == "" {
		cfg.Name = def.Name
	}
	if cfg.ClientURL == "" {
		cfg.ClientURL = def.ClientURL
	}
	if cfg.PeerURL == "" {
		cfg.PeerURL = def.PeerURL
	}
	if cfg.AutoCompactionMode == "" {
		cfg.AutoCompactionMode = def.AutoCompactionMode
	}
	if cfg.AutoCompactionRetention == "" {
		cfg.AutoCompactionRetention = def.AutoCompactionRetention
	}
	if cfg.QuotaBackendBytes == 0 {
		cfg.QuotaBackendBytes = def.QuotaBackendBytes
	}
	if cfg.RaftLogEntries == 0 {
		cfg.RaftLogEntries = def.RaftLogEntries
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = def.LogLevel
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = def.StartTimeout
	}
	return cfg
}

// parseListenURL accepts http://host:port or host:port.
func parseListenURL(s string) (url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return url.URL{}, err
	}
	if u.Scheme != "http" {
		return url.URL{}, fmt.Errorf("%q: only http:// is supported", s)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return url.URL{}, fmt.Errorf("%q: %w", s, err)
	}
	return *u, nil
}

// withFreePort replaces port 0 with a port that is free right now, and says
// whether it did.
func withFreePort(u url.URL) (url.URL, bool, error) {
	host, port, _ := net.SplitHostPort(u.Host)
	if port != "0" {
		return u, false, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return u, false, fmt.Errorf("cannot find a free port on %s: %w", host, err)
	}
	u.Host = l.Addr().String()
	_ = l.Close()
	return u, true, nil
}

func isAddrInUse(err error) bool {
	// etcd does not always wrap the listener error with %w.
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}
