package s3

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/tcpfault"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestLostCommitReplyWithReuploadRecovers guards against issue 18's fifth scenario: a
// commit that landed but whose reply was lost is retried, and the retry legitimately
// carries other bytes (here the object was uploaded again under a new key, because the
// retry came after gc.grace/2). The broker took any other bytes under its own key for a
// reused sequence, logged "BUG: seq reused" on every retry, and its pipeline stayed stuck
// until restart: every produce timed out. A TCP proxy on the etcd link delivers the
// broker's requests but drops etcd's replies for longer than the commit deadline; once it
// mends, production must resume and every acknowledged record be served.
func TestLostCommitReplyWithReuploadRecovers(t *testing.T) {
	etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
	proxy := tcpfault.Start(t, strings.TrimPrefix(etcd.ClientURL, "http://"))
	s3 := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	// Commit deadline gc.grace/2 = 2 s, attempts of 1 s: a retry after the 3 s of lost
	// replies is past the deadline and uploads the object again under a new key.
	b := testbroker.StartBroker(t, []string{"http://" + proxy.Addr}, s3, append(append([]string{}, baseArgs...),
		"--gc-grace", "4s", "--flush-attempt-timeout", "1s", "--session-ttl", "20s")...)
	const topic, partitions = "lostreply", 2
	kafkatest.CreateTopic(t, b.Addr, topic, partitions)
	l := kafkatest.StartLoader(t, []string{b.Addr}, topic, partitions, kafkatest.LoadOpts{Inflight: 20})
	l.WaitAcks(t, 200, 30*time.Second)

	proxy.DropReplies()
	// Wait until a commit was sent and its reply swallowed, then keep them lost past the
	// commit deadline.
	kafkatest.WaitFor(t, 10*time.Second, "etcd replies dropped", func() bool { return proxy.DroppedBytes() > 0 })
	time.Sleep(3 * time.Second) // the fault's length: replies stay lost past gc.grace/2
	proxy.Mend()
	before := l.Ledger.Len()
	l.WaitAcks(t, before+500, 60*time.Second)
	l.Finish(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := kafkatest.MetricValue(m, "kafscale_etcd_commits_recovered_total"); n < 1 {
		t.Errorf("kafscale_etcd_commits_recovered_total = %v: no commit found its own earlier attempt, so the fault did not hit a commit", n)
	}
	if log := b.LogTail(64 << 20); strings.Contains(log, "BUG:") {
		t.Errorf("the broker logged a BUG: line:\n%s", bugLines(log))
	}
	if err := l.Ledger.Verify(kafkatest.ReadAll(t, b.Addr, topic, partitions)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records acknowledged and read back; %d reply bytes dropped", l.Ledger.Len(), proxy.DroppedBytes())
}

// bugLines returns the log's lines holding "BUG:".
func bugLines(log string) string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, "BUG:") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}
