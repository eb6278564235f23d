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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
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
	plain bool     // run a broker built without the race detector (memory bounds)
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
	start := testbroker.StartBroker
	if o.plain {
		start = testbroker.StartPlainBroker
	}
	c.broker = start(t, c.etcd.Endpoints(), s3, append(append([]string{}, baseArgs...), o.args...)...)
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
	// idempotent producers (franz-go's default) retry without storing a batch twice
	idempotent bool
	kopts      []kgo.Opt
}

func startLoader(t *testing.T, addr, topic string, partitions int32, o loadOpts) *loader {
	t.Helper()
	if o.inflight == 0 {
		o.inflight = 200
	}
	l := &loader{ledger: ackcheck.NewLedger(), errMsg: map[string]int{}}
	newProducer := kafkatest.NewNonIdempotentProducer
	if o.idempotent {
		newProducer = kafkatest.NewIdempotentProducer
	}
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
	kafkatest.WaitFor(t, timeout, fmt.Sprintf("%d acks", n), func() bool { return l.ledger.Len() >= n })
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
