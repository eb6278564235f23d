package s3

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/tcpfault"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestUnsafeGCGraceIsRefused guards against issue 18's fourth scenario, first half: nothing
// checked gc.grace against the commit deadline, so a grace shorter than a commit may take
// (gc.grace/2 plus an attempt already sent to etcd, up to --flush-attempt-timeout) let GC
// delete an object whose commit then landed. Both `kafscale dev` and `kafscale broker` must
// refuse such settings at start, with the attempt timeout given or its default (30 s),
// exiting non-zero with an error naming --gc-grace.
func TestUnsafeGCGraceIsRefused(t *testing.T) {
	settings := map[string][]string{
		"explicit": {"--gc-grace", "10s", "--flush-attempt-timeout", "30s"},
		"default":  {"--gc-grace", "10s"},
	}
	t.Run("dev", func(t *testing.T) {
		for name, args := range settings {
			t.Run(name, func(t *testing.T) { checkRefused(t, testbroker.Launch(t, args...)) })
		}
	})
	t.Run("broker", func(t *testing.T) {
		etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
		s3 := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
			AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
		for name, args := range settings {
			t.Run(name, func(t *testing.T) { checkRefused(t, testbroker.LaunchBroker(t, etcd.Endpoints(), s3, args...).Process) })
		}
	})
}

// checkRefused fails the test unless p exits non-zero with an error line naming --gc-grace
// and its value.
func checkRefused(t *testing.T, p *testbroker.Process) {
	t.Helper()
	code, out := p.WaitRefused(30 * time.Second)
	if code == 0 {
		t.Errorf("kafscale exited with status 0; want an error")
	}
	for line := range strings.Lines(out) {
		if strings.Contains(line, "--gc-grace") && strings.Contains(line, "10s") {
			t.Logf("refused with status %d: %s", code, strings.TrimSpace(line))
			return
		}
	}
	t.Errorf("kafscale's output has no line naming --gc-grace and its value 10s:\n%s", out)
}

// TestStoreClockBehindDeletesNothingUncommitted guards against issue 18's fourth scenario,
// second half: GC compared the object store's LastModified with the broker's own clock, so
// with a store whose clock runs behind, objects uploaded a moment ago looked older than
// gc.grace, and GC deleted flush objects uploaded but not yet committed; their commits then
// landed and acknowledged records pointed at nothing. The S3 proxy reports every
// LastModified of the broker's listings an hour early, and a TCP proxy on the etcd link
// delays every reply by 300-700 ms (random, seed logged), so objects wait uncommitted while
// GC runs every 200 ms. Every acknowledged record must be read back, also after a kill -9.
func TestStoreClockBehindDeletesNothingUncommitted(t *testing.T) {
	etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
	etcdProxy := tcpfault.Start(t, strings.TrimPrefix(etcd.ClientURL, "http://"))
	s3Proxy, err := s3fault.Start(minio.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3Proxy.Close() })
	s3Proxy.Set(s3fault.Rule{ModifiedShift: -time.Hour})
	s3 := testbroker.S3{Endpoint: s3Proxy.URL(), Region: minio.Region, Bucket: minio.Bucket,
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	b := testbroker.StartBroker(t, []string{"http://" + etcdProxy.Addr}, s3, append(append([]string{}, baseArgs...),
		"--gc-interval", "200ms", "--gc-grace", "4s", "--flush-attempt-timeout", "2s", "--session-ttl", "20s")...)
	const topic, partitions = "skew", 2
	kafkatest.CreateTopic(t, b.Addr, topic, partitions)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 18))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			etcdProxy.DelayReplies(time.Duration(300+rng.IntN(401)) * time.Millisecond)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond): // how long one delay holds
			}
		}
	}()
	l := kafkatest.StartLoader(t, []string{b.Addr}, topic, partitions, kafkatest.LoadOpts{Inflight: 400, Clients: 2})
	// Each GC pass lists three prefixes (flush objects, segments, producer state) and waits
	// for two delayed etcd replies: 30 listings are about ten passes under load.
	kafkatest.WaitFor(t, 60*time.Second, "1000 acks and 30 listings", func() bool {
		return l.Ledger.Len() >= 1000 && s3Proxy.Stats().Listings >= 30
	})
	l.Finish(t)
	close(stop)
	wg.Wait()
	etcdProxy.Mend()

	if missing := missingCommitted(t, metaStore(t, etcd), minio, 0); len(missing) > 0 {
		t.Fatalf("%d flush objects committed in etcd are not in the bucket (GC deleted them before their commit landed; %d records acknowledged): %v",
			len(missing), l.Ledger.Len(), missing[:min(len(missing), 5)])
	}
	if err := l.Ledger.Verify(kafkatest.ReadAll(t, b.Addr, topic, partitions)); err != nil {
		t.Fatal(err)
	}
	b.Kill()
	b.Restart()
	if err := l.Ledger.Verify(kafkatest.ReadAll(t, b.Addr, topic, partitions)); err != nil {
		t.Fatal(err)
	}
	st := s3Proxy.Stats()
	t.Logf("%d records acknowledged and read back after a kill -9 (%d sent, %d failed); S3 requests: %v, %d listings shifted an hour back",
		l.Ledger.Len(), l.Sent(), l.Failed(), st.Requests, st.Listings)
}
