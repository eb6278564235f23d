package fsck

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kafscale/kafscale/fsck"
	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/segment"
)

// TestFsckOfAHealthyClusterExitsZero runs fsck against a running broker's etcd and bucket
// holding segments, flush objects and a topic manifest: nothing to report, exit 0, and the
// text report says healthy.
func TestFsckOfAHealthyClusterExitsZero(t *testing.T) {
	s := startStores(t)
	b := testbroker.StartBroker(t, s.etcd.Endpoints(), s.s3, brokerArgs...)
	kafkatest.CreateTopic(t, b.Addr, "orders", 3)
	kafkatest.ProduceSync(t, kafkatest.NewIdempotentProducer(t, b.Addr), ackcheck.NewLedger(), "orders", 3, "v", 300)
	waitForObjects(t, s, segment.SegmentPrefix, 3)

	r := runFsck(t, s, s.etcd.Endpoints(), "--json")
	if r.code != 0 || !r.report.Healthy() {
		t.Fatalf("fsck of a healthy cluster: exit %d, problems %+v\n%s", r.code, r.report.Problems, r.stderr)
	}
	if r.report.SegmentObjects < 3 || r.report.FlushObjects == 0 || r.report.Topics != 1 || r.report.Partitions != 3 {
		t.Fatalf("fsck examined %d segment and %d flush objects, %d topics, %d partitions; want >= 3, > 0, 1, 3",
			r.report.SegmentObjects, r.report.FlushObjects, r.report.Topics, r.report.Partitions)
	}
	text := runFsck(t, s, s.etcd.Endpoints(), "--verify-data")
	if text.code != 0 || !strings.Contains(text.stdout, "healthy") {
		t.Fatalf("text report with --verify-data: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
}

// TestFsckReportsEachDamage deletes a segment object etcd references, corrupts a flush
// object's footer and a byte of another segment's records, and adds an unreferenced
// object and a topic manifest that does not decode, then expects each reported by key and
// exit status 1.
func TestFsckReportsEachDamage(t *testing.T) {
	s := startStores(t)
	b := testbroker.StartBroker(t, s.etcd.Endpoints(), s.s3, brokerArgs...)
	kafkatest.CreateTopic(t, b.Addr, "orders", 2)
	kafkatest.ProduceSync(t, kafkatest.NewIdempotentProducer(t, b.Addr), ackcheck.NewLedger(), "orders", 2, "v", 200)
	waitForObjects(t, s, segment.SegmentPrefix, 2)
	b.Term(30 * time.Second)
	ctx := context.Background()

	cli, err := meta.NewClient(s.etcd.Endpoints(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	segs, err := meta.New(cli, meta.DefaultConfig(), nil).ListAllSegments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var deleted, damaged string
	for _, l := range segs {
		if deleted == "" {
			deleted = l[0].Key
		} else {
			damaged = l[0].Key
		}
	}
	if deleted == "" || damaged == "" {
		t.Fatalf("etcd holds segments of %d partitions, want 2", len(segs))
	}
	if err := s.st.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}

	flushObjs := waitForObjects(t, s, segment.FlushPrefix, 1)
	corrupted := flushObjs[len(flushObjs)-1].Key
	overwrite(t, s, corrupted, func(b []byte) { b[len(b)-segment.TrailerSize-5] ^= 0xff }) // inside the footer's checksum

	overwrite(t, s, damaged, func(b []byte) { b[100] ^= 0xff }) // inside the first batch's records

	badManifest := segment.TopicManifestKey([16]byte{0xee}, time.Now())
	if err := s.st.Put(ctx, badManifest, [][]byte{[]byte("not a manifest")}, 14); err != nil {
		t.Fatal(err)
	}

	orphan := segment.FlushKey(7, 1, time.Now())
	if err := s.st.Put(ctx, orphan, [][]byte{[]byte("never committed")}, 15); err != nil {
		t.Fatal(err)
	}

	// The orphan counts once it is older than --orphan-age; until then it is in flight.
	var r fsckRun
	kafkatest.WaitFor(t, 30*time.Second, "the orphan reported", func() bool {
		r = runFsck(t, s, s.etcd.Endpoints(), "--json", "--orphan-age", "1s", "--verify-data")
		return len(r.problems(fsck.KindOrphan)) > 0 && hasObject(r.problems(fsck.KindOrphan), orphan)
	})
	if r.code != 1 {
		t.Fatalf("fsck of a damaged bucket exited %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []struct{ kind, key string }{
		{fsck.KindMissing, deleted},
		{fsck.KindCorrupt, corrupted},
		{fsck.KindOrphan, orphan},
		{fsck.KindCorruptData, damaged},
		{fsck.KindCorruptMetadata, badManifest},
	} {
		if !hasObject(r.problems(want.kind), want.key) {
			t.Errorf("no %s problem for %s; problems: %+v", want.kind, want.key, r.report.Problems)
		}
	}
	text := runFsck(t, s, s.etcd.Endpoints(), "--orphan-age", "1s")
	t.Logf("text report:\n%s", text.stdout)
	if text.code != 1 || !strings.Contains(text.stdout, "PROBLEM "+fsck.KindMissing+" ") || !strings.Contains(text.stderr, "problems found") {
		t.Errorf("text report: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
}

// overwrite replaces an object with its bytes changed by damage (the S3 API overwrites;
// KafScale's own store never does).
func overwrite(t *testing.T, s *stores, key string, damage func([]byte)) {
	t.Helper()
	ctx := context.Background()
	data, _, err := s.st.GetSuffix(ctx, key, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	damage(data)
	if _, err := s.minio.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.minio.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		t.Fatalf("cannot overwrite %s: %v", key, err)
	}
}

func hasObject(fs []fsck.Finding, key string) bool {
	for _, f := range fs {
		if f.Object == key {
			return true
		}
	}
	return false
}

// TestFsckRefusesBadUsage: a missing required flag or a bad value is exit status 2.
func TestFsckRefusesBadUsage(t *testing.T) {
	s := &stores{s3: testbroker.S3{Bucket: "b", Endpoint: "http://127.0.0.1:1", Region: "us-east-1"}}
	for _, args := range [][]string{{"--orphan-age", "0s"}, {"--parallel", "0"}, {"extra-argument"}, {"--rebuild", "--verify-data"}} {
		r := runFsck(t, s, []string{"http://127.0.0.1:1"}, args...)
		if r.code != 2 {
			t.Errorf("fsck %v exited %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}
