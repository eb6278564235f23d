// Package s3 tests `kafscale broker` in production mode against a real etcd server and a
// real MinIO server (internal/testinfra), with real Kafka clients: round trips through S3,
// kill -9 under load, and etcd or S3 going away or misbehaving under load. Every test
// bounds its own duration.
package s3

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// cluster is one broker on its own etcd server and MinIO server.
type cluster struct {
	etcd   *testinfra.Etcd
	minio  *testinfra.MinIO
	proxy  *s3fault.Proxy // nil unless the broker reaches MinIO through it
	broker *testbroker.Broker
}

// clusterOpts says how to start a cluster.
type clusterOpts struct {
	proxy bool     // put an s3fault proxy between the broker and MinIO
	args  []string // extra broker flags
}

// baseArgs keep flush objects small and frequent so a few seconds of load make many of
// them, and S3 attempts short so outages are noticed quickly.
var baseArgs = []string{"--flush-interval", "20ms", "--s3-request-timeout", "3s"}

func startCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{etcd: testinfra.StartEtcd(t), minio: testinfra.StartMinIO(t)}
	s3 := testbroker.S3{Endpoint: c.minio.Endpoint, Region: c.minio.Region, Bucket: c.minio.Bucket,
		AccessKey: c.minio.AccessKey, SecretKey: c.minio.SecretKey}
	if o.proxy {
		p, err := s3fault.Start(c.minio.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		c.proxy = p
		s3.Endpoint = p.URL()
	}
	c.broker = testbroker.StartBroker(t, c.etcd.Endpoints(), s3, append(append([]string{}, baseArgs...), o.args...)...)
	if dir := os.Getenv("KAFSCALE_TEST_LOG_DIR"); dir != "" {
		// The whole broker log of a failed test, for debugging (the failure shows its tail).
		t.Cleanup(func() {
			if t.Failed() {
				path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".broker.log")
				_ = os.WriteFile(path, []byte(c.broker.LogTail(1<<30)), 0o644)
				t.Logf("broker log written to %s", path)
			}
		})
	}
	return c
}

// newProducer returns a franz-go producer with acks=all and manual partitioning.
// Idempotence is off until the idempotent-producer issue lands (the broker answers
// InitProducerId with CLUSTER_AUTHORIZATION_FAILED).
func newProducer(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RecordDeliveryTimeout(60 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("cannot create producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with the given partition count.
func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("cannot create topic %s: %v", topic, err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("cannot create topic %s: error code %d", topic, code)
	}
}

// produceSync produces n records spread over the partitions, records each ack, and fails
// the test on any produce error.
func produceSync(t *testing.T, cl *kgo.Client, ledger *ackcheck.Ledger, topic string, partitions int32, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failed.Store(err)
				return
			}
			ledger.Ack(ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Value)
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("produce failed: %v", err)
	}
}

// loader produces continuously with acks=all and records every ack in a ledger. Values are
// unique ("v-<seq>-", padded to the configured size).
type loader struct {
	ledger *ackcheck.Ledger
	cls    []*kgo.Client
	stop   context.CancelFunc
	wg     sync.WaitGroup
	sent   atomic.Int64
	errs   atomic.Int64
	mu     sync.Mutex
	errMsg map[string]int // produce errors by message, for the log
}

// loadOpts shape a loader's traffic.
type loadOpts struct {
	inflight  int // records produced but not yet answered, at most (default 200)
	valueSize int // bytes per value, at least the "v-<seq>-" prefix
	rate      int // records per second, at most; 0 is as fast as inflight allows
	clients   int // producer clients (each has its own connection); default 1
	kopts     []kgo.Opt
}

func startLoader(t *testing.T, addr, topic string, partitions int32, o loadOpts) *loader {
	t.Helper()
	if o.inflight == 0 {
		o.inflight = 200
	}
	l := &loader{ledger: ackcheck.NewLedger(), errMsg: map[string]int{}}
	for range max(o.clients, 1) {
		l.cls = append(l.cls, newProducer(t, addr, append([]kgo.Opt{kgo.RequestRetries(1000),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
			kgo.MaxBufferedRecords(o.inflight + 1)}, o.kopts...)...))
	}
	ctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		sem := make(chan struct{}, o.inflight)
		const tick = 10 * time.Millisecond
		var tokens int
		last := time.Now()
		for ctx.Err() == nil {
			if o.rate > 0 {
				for tokens == 0 {
					select {
					case <-time.After(tick):
					case <-ctx.Done():
						return
					}
					now := time.Now()
					tokens = int(now.Sub(last).Seconds() * float64(o.rate))
					if tokens > 0 {
						last = now
					}
				}
				tokens--
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			i := l.sent.Add(1)
			v := fmt.Appendf(nil, "v-%d-", i)
			for len(v) < o.valueSize {
				v = append(v, 'x')
			}
			r := &kgo.Record{Topic: topic, Partition: int32(i % int64(partitions)), Value: v}
			l.cls[i%int64(len(l.cls))].Produce(context.Background(), r, func(r *kgo.Record, err error) {
				<-sem
				if err != nil {
					l.errs.Add(1)
					l.mu.Lock()
					l.errMsg[err.Error()]++
					l.mu.Unlock()
					return
				}
				l.ledger.Ack(ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Value)
			})
		}
	}()
	t.Cleanup(l.stop)
	return l
}

// waitAcks waits until the ledger holds at least n acks, failing the test after timeout.
func (l *loader) waitAcks(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d acks", n), func() bool { return l.ledger.Len() >= n })
}

// finish stops producing and waits until every record in flight is answered.
func (l *loader) finish(t *testing.T) {
	t.Helper()
	l.stop()
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, cl := range l.cls {
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("cannot flush the producer: %v", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errMsg) > 0 {
		t.Logf("produce errors (not acknowledged): %v", l.errMsg)
	}
}

// waitFor polls cond every 20 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// endOffsets returns the high watermark of each partition.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return nil, fmt.Errorf("list offsets of %s-%d: error code %d", topic, p.Partition, p.ErrorCode)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

// readAll consumes every partition from offset 0 up to its current high watermark.
func readAll(t *testing.T, addr, topic string, partitions int32) []ackcheck.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchMaxBytes(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := endOffsets(ctx, cl, topic, partitions)
	if err != nil {
		t.Fatalf("cannot list end offsets: %v", err)
	}
	offsets := make(map[int32]kgo.Offset)
	remaining := 0
	for p, end := range ends {
		if end > 0 {
			offsets[p] = kgo.NewOffset().AtStart()
			remaining++
		}
	}
	var out []ackcheck.Record
	if remaining == 0 {
		return out
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	next := make(map[int32]int64)
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading %s back: next offsets %v, ends %v", topic, next, ends)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch error on %s-%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			out = append(out, ackcheck.Record{Partition: ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, Offset: r.Offset, Value: r.Value})
			next[r.Partition] = r.Offset + 1
			if r.Offset+1 == ends[r.Partition] {
				remaining--
			}
		})
	}
	return out
}

// duplicates lists values stored at more than one offset (values are unique per producer,
// so each is a record the broker stored twice).
func duplicates(read []ackcheck.Record) []string {
	seen := make(map[string]string, len(read))
	var dups []string
	for _, r := range read {
		at := fmt.Sprintf("%s-%d@%d", r.Topic, r.Partition.Partition, r.Offset)
		if prev, ok := seen[string(r.Value)]; ok && prev != at {
			dups = append(dups, fmt.Sprintf("%.20q at %s and %s", r.Value, prev, at))
			continue
		}
		seen[string(r.Value)] = at
	}
	return dups
}

// checkUnique fails the test if a value is stored at more than one offset.
func checkUnique(t *testing.T, read []ackcheck.Record) {
	t.Helper()
	dups := duplicates(read)
	if len(dups) > 0 {
		n := len(dups)
		if n > 20 {
			dups = append(dups[:20], fmt.Sprintf("... and %d more", n-20))
		}
		t.Fatalf("%d values stored at more than one offset:\n%s", n, strings.Join(dups, "\n"))
	}
}

var metricLine = regexp.MustCompile(`(?m)^(\S+?)(?:\{[^}]*\})? (\S+)$`)

// metricValue returns the sum of a metric's samples in Prometheus text.
func metricValue(text, name string) float64 {
	var sum float64
	for _, m := range metricLine.FindAllStringSubmatch(text, -1) {
		if m[1] == name {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

// readyz asks /readyz once; a broker that does not answer counts as not ready.
func readyz(b *testbroker.Broker) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := b.Readyz(ctx)
	if err != nil {
		return 0, err.Error()
	}
	return code, body
}
