package s3

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/s3fault"
)

// outageBufferBytes is --buffer-bytes in the outage tests: small, so that 10 s of load
// fills it many times over and the broker must push back instead of growing.
const outageBufferBytes = 32 << 20

// rssMargin is how far the broker's RSS may exceed --buffer-bytes. Besides the buffered
// records the broker holds its baseline (runtime, etcd and S3 clients: ~50 MiB under this
// load), produce frames read but waiting for buffer space (not counted in buffer.bytes: up
// to connections x in-flight requests x request size, here ~32 MiB), and garbage: with
// GOGC=100 the heap may reach twice the live data before a collection. Measured on the
// 2-core machine with the load of testOutage: at most 138-142 MiB of RSS (after a 30 s
// outage it levels off at ~127 MiB after ~20 s); the margin leaves ~50 MiB over that for
// a busy CI machine, far below what buffering every retry would take (by the end of the
// outage the clients re-send ~60 MiB of unanswered records every second). The outage
// tests run a broker built without the race detector (testbroker.StartPlainBroker), whose
// shadow memory would multiply all of this by a factor that moves with the machine's load
// (367-452 MiB seen for the same run).
const rssMargin = 160 << 20

// outageFor is how long a dependency stays away.
const outageFor = 10 * time.Second

// outage is one dependency going away for a while under load.
type outage struct {
	down, up func()
	// reason is what /readyz must say while the dependency is away.
	reason *regexp.Regexp
}

// TestMinIOStoppedUnderLoad stops MinIO for 10 s under a steady acks=all load.
func TestMinIOStoppedUnderLoad(t *testing.T) {
	c := startCluster(t, clusterOpts{plain: true, args: []string{"--buffer-bytes", fmt.Sprint(outageBufferBytes)}})
	testOutage(t, c, outage{down: c.minio.Stop, up: c.minio.Start, reason: regexp.MustCompile(`upload`)})
}

// TestEtcdStoppedUnderLoad stops the etcd server for 10 s under a steady acks=all load.
func TestEtcdStoppedUnderLoad(t *testing.T) {
	c := startCluster(t, clusterOpts{plain: true, args: []string{"--buffer-bytes", fmt.Sprint(outageBufferBytes)}})
	testOutage(t, c, outage{down: c.etcd.Stop, up: c.etcd.Start, reason: regexp.MustCompile(`etcd|commit`)})
}

// testOutage produces uncompressed 4 KiB records at ~10 MB/s from 8 clients that linger 1 s
// (so batches are large), takes a dependency away for 10 s and brings it back. The clients'
// produce timeout is 1 s: during the outage each re-sends its unanswered batches every
// second, and without idempotence every retry is appended again, so the broker is offered
// far more than --buffer-bytes. While the dependency is away: /readyz answers 503 with the
// reason; the bytes appended and not committed reach --buffer-bytes and stay within it;
// the broker's RSS stays within --buffer-bytes plus rssMargin. Afterwards /readyz is 200
// again, the load makes progress, no record failed for good (produce waited or got
// retriable errors), and every acknowledged record is read back at its offset.
func testOutage(t *testing.T, c *cluster, o outage) {
	b := c.broker
	const topic, partitions = "load", 4
	kafkatest.CreateTopic(t, b.Addr, topic, partitions)
	l := kafkatest.StartLoader(t, []string{b.Addr}, topic, partitions, kafkatest.LoadOpts{
		Inflight: 16000, ValueSize: 4 << 10, Rate: 2500, Clients: 8,
		Opts: []kgo.Opt{kgo.ProduceRequestTimeout(time.Second), kgo.ProducerBatchMaxBytes(1 << 20),
			kgo.ProducerLinger(time.Second), kgo.ProducerBatchCompression(kgo.NoCompression())},
	})
	l.WaitAcks(t, 1000, 30*time.Second)

	var maxRSS atomic.Int64
	sampleRSS := func() {
		if rss, err := b.RSS(); err == nil && rss > maxRSS.Load() {
			maxRSS.Store(rss)
		}
	}
	sampleRSS()
	t.Logf("broker RSS under load before the outage: %d MiB", maxRSS.Load()>>20)
	samplerDone := make(chan struct{})
	var samplerWG sync.WaitGroup
	samplerWG.Go(func() {
		for {
			select {
			case <-samplerDone:
				return
			case <-time.After(50 * time.Millisecond):
				sampleRSS()
			}
		}
	})
	defer func() { close(samplerDone); samplerWG.Wait() }()

	o.down()
	downAt, ackedAtDown := time.Now(), l.Ledger.Len()
	var sawReason string
	var answers []string
	var rssTimeline []string // max RSS so far, once a second
	for time.Since(downAt) < outageFor {
		if s := int(time.Since(downAt) / time.Second); s >= len(rssTimeline) {
			rssTimeline = append(rssTimeline, fmt.Sprint(maxRSS.Load()>>20))
		}
		code, body := readyz(b)
		body = strings.TrimSpace(body)
		if code == 503 && o.reason.MatchString(body) && sawReason == "" {
			sawReason = body
			t.Logf("/readyz %s after the outage began: %d %s", time.Since(downAt).Round(time.Millisecond), code, body)
		}
		if len(answers) == 0 || answers[len(answers)-1] != fmt.Sprint(code) {
			answers = append(answers, fmt.Sprint(code))
		}
		time.Sleep(200 * time.Millisecond)
	}
	ackedDuringOutage := l.Ledger.Len() - ackedAtDown
	offered := (l.Sent() - int64(l.Ledger.Len()) - l.Failed()) * 4 << 10
	// Appended minus committed bytes: what the broker holds for the dependency's return.
	var held int64
	mctx, mcancel := context.WithTimeout(context.Background(), 5*time.Second)
	if m, err := b.Metrics(mctx); err == nil {
		held = int64(kafkatest.MetricValue(m, "kafscale_produce_bytes_total") - kafkatest.MetricValue(m, "kafscale_flush_bytes_total"))
	}
	mcancel()
	o.up()
	upAt := time.Now()
	kafkatest.WaitFor(t, 60*time.Second, "/readyz 200 after the outage", func() bool { code, _ := readyz(b); return code == 200 })
	t.Logf("/readyz 200 again %s after the dependency returned", time.Since(upAt).Round(time.Millisecond))
	ackedAtUp := l.Ledger.Len()
	l.WaitAcks(t, ackedAtUp+2000, 60*time.Second)
	t.Logf("acks: %d before the outage, %d during it, %d progress after it within %s", ackedAtDown, ackedDuringOutage, l.Ledger.Len()-ackedAtUp, time.Since(upAt).Round(time.Millisecond))
	l.Finish(t)

	t.Logf("at the end of the outage: %d MiB of records unanswered at the clients, about %d MiB appended and not committed in the broker", offered>>20, held>>20)
	if held < outageBufferBytes/2 {
		t.Errorf("only %d MiB were appended and not committed at the end of the outage; the load must fill --buffer-bytes (%d MiB) to test the bound", held>>20, outageBufferBytes>>20)
	}
	if held > outageBufferBytes {
		t.Errorf("%d MiB were appended and not committed at the end of the outage; want at most --buffer-bytes (%d MiB)", held>>20, outageBufferBytes>>20)
	}
	if sawReason == "" {
		t.Errorf("/readyz never answered 503 with a reason matching %q while the dependency was away (status codes seen: %v)", o.reason, answers)
	}
	limit := int64(outageBufferBytes) + rssMargin
	t.Logf("broker max RSS (MiB) at each second of the outage: %s", strings.Join(rssTimeline, " "))
	t.Logf("broker max RSS %d MiB (limit %d MiB = --buffer-bytes %d MiB + margin %d MiB)", maxRSS.Load()>>20, limit>>20, outageBufferBytes>>20, rssMargin>>20)
	if maxRSS.Load() > limit {
		t.Errorf("broker RSS reached %d MiB; want at most %d MiB", maxRSS.Load()>>20, limit>>20)
	}
	if n := l.Failed(); n > 0 {
		t.Errorf("%d records failed for good; want produce to wait or get retriable errors", n)
	}
	read := kafkatest.ReadAll(t, b.Addr, topic, partitions)
	if err := l.Ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged records verified; %d stored twice (client retries after REQUEST_TIMED_OUT; expected without idempotence)", l.Ledger.Len(), len(kafkatest.Duplicates(read)))
}

// TestS3ServerErrorsAreRetriedWithoutLossOrDuplicates puts an s3fault proxy between the
// broker and MinIO that answers a share of requests with 500 InternalError or 503 SlowDown,
// some of them after MinIO stored the object (a lost response, which a conditional PUT's
// retry sees as 412). The broker retries S3 requests itself, so the Kafka clients see no
// error: every acknowledged record is read back at its offset, every value exactly once.
// The broker is then restarted with the faults still on, so takeover (footer reads) and the
// read-back (ranged GETs) go through them too.
func TestS3ServerErrorsAreRetriedWithoutLossOrDuplicates(t *testing.T) {
	c := startCluster(t, clusterOpts{proxy: true, args: []string{"--s3-max-retries", "8"}})
	b := c.broker
	const topic, partitions = "flaky", 4
	kafkatest.CreateTopic(t, b.Addr, topic, partitions)
	// A produce that outlasts its timeout is answered REQUEST_TIMED_OUT and retried by the
	// client, which may store it twice; a generous timeout keeps this test about S3 retries.
	l := kafkatest.StartLoader(t, []string{b.Addr}, topic, partitions, kafkatest.LoadOpts{Inflight: 2000,
		Opts: []kgo.Opt{kgo.ProduceRequestTimeout(60 * time.Second), kgo.MaxProduceRequestsInflightPerBroker(8)}})
	l.WaitAcks(t, 500, 30*time.Second)
	for _, rule := range []s3fault.Rule{
		{Fault: s3fault.InternalError, Fraction: 0.2},
		{Fault: s3fault.SlowDown, Fraction: 0.2},
		{Fault: s3fault.InternalError, Fraction: 0.2, AfterForward: true, Methods: []string{"PUT"}},
	} {
		before := c.proxy.Stats().Faulted["PUT"]
		c.proxy.Set(rule)
		l.WaitAcks(t, l.Ledger.Len()+1000, 60*time.Second)
		kafkatest.WaitFor(t, 60*time.Second, fmt.Sprintf("5 PUTs faulted with %+v", rule), func() bool { return c.proxy.Stats().Faulted["PUT"] >= before+5 })
	}
	l.Finish(t)
	if n := l.Failed(); n > 0 {
		t.Errorf("%d records failed; want S3 errors retried inside the broker", n)
	}

	c.proxy.Set(s3fault.Rule{Fault: s3fault.InternalError, Fraction: 0.2})
	b.Term(30 * time.Second)
	b.Restart()
	read := kafkatest.ReadAll(t, b.Addr, topic, partitions)
	st := c.proxy.Stats()
	t.Logf("%d records acknowledged; S3 requests %v, faulted %v", l.Ledger.Len(), st.Requests, st.Faulted)
	if st.Faulted["PUT"] == 0 || st.Faulted["GET"] == 0 {
		t.Errorf("proxy faulted %v; want both PUTs and GETs faulted", st.Faulted)
	}
	if err := l.Ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	kafkatest.RequireExactlyOnce(t, read)
}
