package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/bench"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// target is a running broker and what kcost reads from it.
type target struct {
	about       string
	addr        string // Kafka bootstrap
	metricsAddr string
	etcdURL     string
	store       objstore.Store // the bucket, opened by kcost itself (its requests are not the broker's)
}

// startTarget starts the broker of cfg.backend with the scaled flags.
func startTarget(ctx context.Context, tb *bench.CommandTB, cfg config) (*target, error) {
	if cfg.backend == "minio" {
		etcd := testinfra.StartEtcd(tb)
		minio := testinfra.StartMinIO(tb)
		b := testbroker.StartPlainBroker(tb, etcd.Endpoints(), testbroker.S3{
			Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
			AccessKey: minio.AccessKey, SecretKey: minio.SecretKey,
		}, cfg.brokerFlags...)
		tb.Cleanup(func() { b.Kill(); minio.Kill(); etcd.Kill() })
		s3 := objstore.DefaultS3Config()
		s3.Endpoint, s3.Region, s3.PathStyle = minio.Endpoint, minio.Region, true
		s3.AccessKeyID, s3.SecretAccessKey = minio.AccessKey, minio.SecretKey
		st, err := objstore.Open(ctx, "s3://"+minio.Bucket, s3, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot open the MinIO bucket: %w", err)
		}
		return &target{about: "kafscale broker on MinIO and an etcd server, loopback", addr: b.Addr, metricsAddr: b.MetricsAddr, etcdURL: etcd.ClientURL, store: st}, nil
	}
	etcdAddr := kafkatest.FreeAddr(tb)
	args := append([]string{"--etcd-listen", etcdAddr}, cfg.brokerFlags...)
	about := "kafscale dev, local directory store, embedded etcd"
	if cfg.backend == "s3sim" {
		args = append(args, "--object-latency", "s3-standard")
		about = "kafscale dev, local directory store with --object-latency s3-standard, embedded etcd"
	}
	p := testbroker.StartPlain(tb, args...)
	tb.Cleanup(p.Kill)
	st, err := objstore.Open(ctx, "file://"+filepath.Join(p.DataDir, "objects"), objstore.DefaultS3Config(), nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open the local object store: %w", err)
	}
	return &target{about: about, addr: p.Addr, metricsAddr: p.MetricsAddr, etcdURL: "http://" + etcdAddr, store: st}, nil
}

// result is what one policy's run measured.
type result struct {
	policy       string
	about        string
	producedB    int64 // bytes acknowledged in the window (keys and values)
	records      int64
	errors       int64 // produce errors in the whole run
	delta        counters
	etcdWrites   int64
	stored       []int64 // bucket bytes sampled in the window
	objects      []int64 // bucket objects sampled in the window
	flushObjects []int64 // flush objects among them
	windowSecs   float64
	storedFirst  int64 // bucket bytes at the window's start and end
	storedLast   int64
}

// measure runs one policy: broker, topic, load for warmup + window, counters at the window's
// ends and the bucket sampled in between.
func measure(ctx context.Context, tb *bench.CommandTB, cfg config, policy string) (*result, error) {
	t, err := startTarget(ctx, tb, cfg)
	if err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s [%s] %s\n", time.Now().UTC().Format("15:04:05"), policy, fmt.Sprintf(format, a...))
	}
	logf("%s at %s, flags %v", t.about, t.addr, cfg.brokerFlags)

	cl, err := kgo.NewClient(kgo.SeedBrokers(t.addr), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(1<<16), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		return nil, fmt.Errorf("cannot create a client: %w", err)
	}
	defer cl.Close()
	topic := "cost"
	retention := time.Duration(float64(cfg.retentionAt1) / cfg.scale)
	configs := map[string]*string{
		"cleanup.policy": kadm.StringPtr(policy),
		"retention.ms":   kadm.StringPtr(strconv.FormatInt(retention.Milliseconds(), 10)),
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	resp, err := kadm.NewClient(cl).CreateTopic(cctx, cfg.partitions, 1, configs, topic)
	cancel()
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create topic %s: %w", topic, err)
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{t.etcdURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to etcd at %s: %w", t.etcdURL, err)
	}
	defer etcd.Close()

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var acked, ackedRecords, produceErrs atomic.Int64
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		produce(lctx, cl, cfg, topic, &acked, &ackedRecords, &produceErrs)
	}()

	logf("warm-up %s (retention.ms=%d)", cfg.warmup, retention.Milliseconds())
	if err := sleepCtx(ctx, cfg.warmup); err != nil {
		return nil, err
	}
	r := &result{policy: policy, about: t.about}
	snap := func() (counters, int64, int64, int64, error) {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := scrape(sctx, t.metricsAddr)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		st, err := etcd.Status(sctx, t.etcdURL)
		if err != nil {
			return nil, 0, 0, 0, fmt.Errorf("cannot read etcd's revision: %w", err)
		}
		return c, st.Header.Revision, acked.Load(), ackedRecords.Load(), nil
	}
	c0, rev0, b0, n0, err := snap()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	logf("window %s", cfg.window)
	tick := time.NewTicker(cfg.sampleEvery)
	defer tick.Stop()
	for {
		bytes, objs, flushObjs, err := bucketSize(ctx, t.store)
		if err != nil {
			return nil, err
		}
		r.stored = append(r.stored, bytes)
		r.objects = append(r.objects, objs)
		r.flushObjects = append(r.flushObjects, flushObjs)
		if time.Since(start) >= cfg.window {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	c1, rev1, b1, n1, err := snap()
	if err != nil {
		return nil, err
	}
	r.windowSecs = time.Since(start).Seconds()
	stopLoad()
	<-loadDone
	r.delta = c1.minus(c0)
	r.etcdWrites = rev1 - rev0
	r.producedB, r.records = b1-b0, n1-n0
	r.errors = produceErrs.Load()
	r.storedFirst, r.storedLast = r.stored[0], r.stored[len(r.stored)-1]
	logf("done: %d MB produced in %.0f s, %d produce errors", r.producedB/1e6, r.windowSecs, r.errors)
	if r.errors > 0 {
		return r, fmt.Errorf("%d produce errors (the figures would not be at the asked rate)", r.errors)
	}
	return r, nil
}

// produce sends records of cfg.recordSize bytes (an 8-byte key drawn uniformly from the
// scaled key space, the rest random value bytes) at cfg.rate, counting what is acknowledged.
func produce(ctx context.Context, cl *kgo.Client, cfg config, topic string, acked, records, errs *atomic.Int64) {
	keys := max(1, int(float64(cfg.keys)/cfg.scale))
	perSec := float64(cfg.rate) / float64(cfg.recordSize)
	interval := time.Duration(float64(time.Second) / perSec)
	rng := rand.New(rand.NewPCG(1, 2))
	// Random bytes per record and no compression: the bucket holds what was produced.
	fill := rand.NewChaCha8([32]byte{1})
	next := time.Now()
	for ctx.Err() == nil {
		// Sleep per batch of records due, not per record: timers are coarser than 0.5 ms.
		if d := time.Until(next); d > time.Millisecond {
			if sleepCtx(ctx, d) != nil {
				return
			}
		}
		for !next.After(time.Now()) && ctx.Err() == nil {
			k := rng.IntN(keys)
			value := make([]byte, cfg.recordSize-8)
			_, _ = fill.Read(value)
			rec := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("%08d", k)), Value: value}
			n := int64(len(rec.Key) + len(rec.Value))
			cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					return
				}
				acked.Add(n)
				records.Add(1)
			})
			next = next.Add(interval)
		}
	}
}

// bucketSize lists the whole bucket: its bytes, objects, and flush objects among them (a
// count that grows means merging falls behind).
func bucketSize(ctx context.Context, st objstore.Store) (bytes, objects, flushObjects int64, err error) {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	infos, err := st.List(lctx, "")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cannot list the bucket: %w", err)
	}
	for _, in := range infos {
		bytes += in.Size
		if strings.HasPrefix(in.Key, segment.FlushPrefix) {
			flushObjects++
		}
	}
	return bytes, int64(len(infos)), flushObjects, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
