package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// endpoint is a started Kafka-compatible target.
type endpoint struct {
	about      string
	addr       string
	pid        int    // broker process, 0 if in this process or unknown
	metricsURL string // "" if none
	pprofBase  string // "http://host:port" serving /debug/pprof/, "" if none
	etcdURL    string // "" if none
	stop       func()
}

// Run runs cfg.Load against each of cfg.Targets in turn and returns their results. Brokers
// started for a target run as processes through internal/testbroker and internal/testinfra,
// with tb for their temp dirs, failures and cleanup: a *testing.T in tests, a CommandTB
// (inside its Guard) in kbench. Progress lines go to progress.
func Run(ctx context.Context, tb testing.TB, cfg Config, progress io.Writer) ([]*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var results []*Result
	for _, target := range cfg.Targets {
		res := newResult(target)
		fmt.Fprintf(progress, "kbench: %s: starting\n", target)
		if target == TargetSink {
			res.About = "loopback TCP sink in this process (length-prefixed batches, 1-byte acks)"
			run := runSink
			if cfg.Sync > 0 {
				res.About = "loopback TCP sink in this process (one connection, a frame per record, 1-byte acks)"
				run = runSinkSync
			}
			if err := run(ctx, cfg.Load, res); err != nil {
				return results, fmt.Errorf("%s: %w", target, err)
			}
		} else {
			ep, err := startTarget(tb, cfg, target)
			if err != nil {
				return results, fmt.Errorf("cannot start %s: %w", target, err)
			}
			res.About = ep.about
			fmt.Fprintf(progress, "kbench: %s: running %s + %s\n", target, cfg.Warmup, cfg.Duration)
			err = runEndpoint(ctx, cfg, target, ep, res)
			ep.stop()
			if err != nil {
				return results, fmt.Errorf("%s: %w", target, err)
			}
		}
		switch {
		case cfg.Fill > 0:
			fmt.Fprintf(progress, "kbench: %s: filled %d records at %.0f rec/s, read %.0f rec/s, %.1f MB/s\n", target, res.Records, res.RecordsPerS, res.ConsumedPerS, res.ConsumedMBPerS)
		case cfg.Sync > 0:
			fmt.Fprintf(progress, "kbench: %s: %.0f acks/s, round trip p50 %s ms, p99 %s ms\n", target, res.RecordsPerS, ms(res.Ack.P50), ms(res.Ack.P99))
		default:
			fmt.Fprintf(progress, "kbench: %s: %.0f rec/s, %.1f MB/s, ack p99 %s ms, e2e p99 %s ms\n", target, res.RecordsPerS, res.MBPerS, ms(res.Ack.P99), ms(res.E2E.P99))
		}
		results = append(results, res)
	}
	return results, nil
}

func runEndpoint(ctx context.Context, cfg Config, target string, ep *endpoint, res *Result) error {
	l := cfg.Load
	var probe *prober
	if ep.pid > 0 || ep.metricsURL != "" || ep.etcdURL != "" {
		p, err := newProber(ep.pid, ep.metricsURL, ep.etcdURL)
		if err != nil {
			return err
		}
		defer p.close()
		probe = p
	}
	if cfg.ProfileDir != "" && ep.pprofBase == "" {
		return fmt.Errorf("-profile: %s serves no profiles kbench knows of (a brokers target needs -metrics)", target)
	}
	profile := func(clk *clock) func() error { return profileWindow(ctx, cfg.ProfileDir, target, ep.pprofBase, clk) }
	switch {
	case l.Sync > 0:
		return runKafkaSync(ctx, l, ep.addr, probe, res, profile)
	case l.Fill > 0:
		return runKafkaFetch(ctx, l, ep.addr, probe, res, profile)
	}
	return runKafka(ctx, l, ep.addr, probe, res, profile)
}

// startTarget starts (or, for "brokers", points at) one Kafka-compatible target.
func startTarget(tb testing.TB, cfg Config, target string) (*endpoint, error) {
	name, backend, _ := strings.Cut(target, "/")
	switch name {
	case TargetKfake:
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, err
		}
		return &endpoint{about: "franz-go kfake, 1 broker, in this process", addr: c.ListenAddrs()[0], stop: c.Close}, nil
	case TargetBrokers:
		return &endpoint{about: "external cluster at " + cfg.Brokers, addr: cfg.Brokers, metricsURL: cfg.MetricsURL,
			pprofBase: strings.TrimSuffix(cfg.MetricsURL, "/metrics"), stop: func() {}}, nil
	case TargetKafka:
		k := testinfra.StartKafka(tb, testinfra.KafkaBenchmarkJVM())
		return &endpoint{
			about: "Apache Kafka " + jvm.KafkaVersion + ", one KRaft node (broker and controller), its log on local disk (page cache, no fsync per write: Kafka's default), JVM flags of kafka-server-start.sh",
			addr:  k.Addr, pid: k.Pid(), stop: k.Kill,
		}, nil
	}
	if backend == "" {
		backend = cfg.Backend
	}
	args := append([]string{}, cfg.KafscaleArgs...)
	if cfg.ProfileDir != "" {
		args = append(args, "--pprof")
	}
	switch backend {
	case BackendMinIO:
		etcd := testinfra.StartEtcd(tb)
		minio := testinfra.StartMinIO(tb)
		b := testbroker.StartBroker(tb, etcd.Endpoints(), testbroker.S3{
			Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
			AccessKey: minio.AccessKey, SecretKey: minio.SecretKey,
		}, args...)
		return &endpoint{
			about: "kafscale broker on MinIO and an etcd server, loopback (their CPU and RSS not counted)",
			addr:  b.Addr, pid: b.Pid(), metricsURL: "http://" + b.MetricsAddr + "/metrics", pprofBase: "http://" + b.MetricsAddr, etcdURL: etcd.ClientURL,
			stop: func() { b.Kill(); minio.Kill(); etcd.Kill() },
		}, nil
	case BackendS3Sim:
		args = append(args, "--object-latency", cfg.ObjectLatency)
	}
	etcdAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args = append(args, "--etcd-listen", etcdAddr)
	p := testbroker.Start(tb, args...)
	about := "kafscale dev, local directory store, embedded etcd"
	if backend == BackendS3Sim {
		about = fmt.Sprintf("kafscale dev, local directory store with --object-latency %s, embedded etcd", cfg.ObjectLatency)
	}
	return &endpoint{
		about: about, addr: p.Addr, pid: p.Pid(),
		metricsURL: "http://" + p.MetricsAddr + "/metrics", pprofBase: "http://" + p.MetricsAddr, etcdURL: "http://" + etcdAddr,
		stop: p.Kill,
	}, nil
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
