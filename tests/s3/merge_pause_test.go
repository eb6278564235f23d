package s3

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestPausedMergeCommitLosesNoAcknowledgedRecord guards against issue 18's third scenario:
// a merge's segment upload and its commit ran without a deadline, while every broker's GC
// deletes unreferenced segments/ objects older than gc.grace. Broker 0 is paused (SIGSTOP)
// after MinIO stored its first segment but before it got the PUT's answer, until broker 1's
// GC deleted that segment; resumed, broker 0 committed the deleted segment and then its GC
// deleted the flush objects the segment replaced: acknowledged records lost, and the next
// takeover could not read the segment. A merge commit must land within gc.grace/2 of its
// upload or be given up and redone. After the pause and a kill -9, every acknowledged
// record must be read back at its offset.
func TestPausedMergeCommitLosesNoAcknowledgedRecord(t *testing.T) {
	etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(minio.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	direct := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	viaProxy := direct
	viaProxy.Endpoint = proxy.URL()
	gc := []string{"--gc-interval", "200ms", "--gc-grace", "3s", "--flush-attempt-timeout", "1s"}
	// Broker 0's S3 attempts and etcd session outlast the pause, so that what it does once
	// resumed is its own decision, not a timeout's.
	b0 := testbroker.StartBroker(t, etcd.Endpoints(), viaProxy, append(append(append([]string{}, baseArgs...), gc...),
		"--merge-interval", "200ms", "--merge-age", "500ms", "--merge-bytes", "65536",
		"--s3-request-timeout", "30s", "--session-ttl", "30s")...)
	b1 := testbroker.StartBroker(t, etcd.Endpoints(), direct, append(append(append([]string{}, baseArgs...), gc...),
		"--node-id", "1")...)

	const topic = "pausedmerge"
	kafkatest.CreateTopic(t, b0.Addr, topic, 1) // led by broker 0, which created it
	held := make(chan string, 1)
	proxy.Set(s3fault.Rule{Fault: s3fault.HoldAnswer, Next: 1, Methods: []string{"PUT"}, PathContains: "/segments/", Applied: held})
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, b0.Addr), ledger, topic, 1, "before", 2000)

	var segPath string
	select {
	case segPath = <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("broker 0 uploaded no segment within 30 s")
	}
	segKey := strings.TrimPrefix(segPath, "/"+minio.Bucket+"/")
	if err := b0.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The answer now waits in broker 0's socket until it resumes.
	proxy.Clear()
	flushed := objectKeys(t, minio, "flush/0/")
	t.Logf("broker 0 paused after MinIO stored %s; %d flush objects in the bucket", segKey, len(flushed))
	store := metaStore(t, etcd)
	for deadline := time.Now().Add(20 * time.Second); slices.Contains(objectKeys(t, minio, segKey), segKey); {
		if time.Now().After(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			segs, err := store.ListAllSegmentKeys(ctx)
			m1, merr := b1.Metrics(ctx)
			t.Fatalf("broker 1's GC did not delete %s within 20 s (committed in etcd: %v, %v; broker 1's GC: %v objects deleted, %v errors, %v)",
				segKey, segs[segKey], err, kafkatest.MetricValue(m1, "kafscale_gc_objects_deleted_total"), kafkatest.MetricValue(m1, "kafscale_gc_errors_total"), merr)
		}
		time.Sleep(50 * time.Millisecond) // polling the bucket
	}
	if err := b0.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, b0.Addr), ledger, topic, 1, "after", 2000)
	// Once the flush objects of the paused merge are gone, whatever replaced them is all
	// there is.
	kafkatest.WaitFor(t, 30*time.Second, "broker 0's GC to delete the flush objects that were merged during the pause", func() bool {
		now := objectKeys(t, minio, "flush/0/")
		for _, k := range flushed {
			if slices.Contains(now, k) {
				return false
			}
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Every committed segment must exist: one deleted before its commit landed is data lost
	// (the flush objects it replaced are gone too), and takeover cannot read its footer.
	if missing := missingCommitted(t, store, minio, 0); len(missing) > 0 {
		t.Fatalf("%d objects committed in etcd are not in the bucket (GC deleted them before their commit landed; %d records acknowledged): %v",
			len(missing), ledger.Len(), missing)
	}
	m0, err0 := b0.Metrics(ctx)
	m1, err1 := b1.Metrics(ctx)
	if err0 == nil && err1 == nil {
		t.Logf("broker 0: %v segments merged, %v merge errors; broker 1's GC deleted %v objects",
			kafkatest.MetricValue(m0, "kafscale_merge_segments_total"), kafkatest.MetricValue(m0, "kafscale_merge_errors_total"),
			kafkatest.MetricValue(m1, "kafscale_gc_objects_deleted_total"))
	}

	b0.Kill()
	b0.Restart()
	if err := ledger.Verify(kafkatest.ReadAll(t, b0.Addr, topic, 1)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records acknowledged and read back after the paused merge and a kill -9", ledger.Len())
}
