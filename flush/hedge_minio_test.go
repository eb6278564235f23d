//go:build !kafscale_nos3

package flush

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/objstore"
)

// TestHedgeAgainstMinIO: on a real S3 server (MinIO behind internal/s3fault), a flush
// object whose first PUT hangs is uploaded by its hedge, long before the S3 client's own
// request timeout would have retried it; MinIO then holds the object with exactly the
// flushed bytes, the conditional hedge PUT having gone through while the first was held.
func TestHedgeAgainstMinIO(t *testing.T) {
	m := testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	// A request timeout far beyond the test's wait: only a hedge can finish the upload.
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Bucket: m.Bucket, Endpoint: proxy.URL(), Region: m.Region, PathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, RequestTimeout: 10 * time.Minute,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var storedAtCommit []bool
	c := &fakeCommitter{decide: func(_ uint64, _ int, obj Object) ([]PartitionID, error) {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		_, err := st.GetRange(ctx, obj.Key, 0, obj.Size)
		storedAtCommit = append(storedAtCommit, err == nil)
		return nil, nil
	}}
	cfg := hedgeConfig()
	cfg.AttemptTimeout = 10 * time.Minute
	f := newTestFlusher(t, cfg, st, c)
	primeHedger(f)

	proxy.Set(s3fault.Rule{Fault: s3fault.Hang, Next: 1, Methods: []string{http.MethodPut}, PathContains: "/flush/"})
	events := &eventLog{}
	a := &fakeSink{name: "a", log: events}
	b := testBatch(1, 0, 9, 64<<10)
	appendReserved(t, f, a, partitionID(1, 0, 1), b)
	start := time.Now()
	if err := waitDone(t, cutNow(t, f)); err != nil {
		t.Fatalf("flush whose first PUT hangs: %v", err)
	}
	t.Logf("upload with a hung first PUT finished in %s (hedge delay %s)", time.Since(start), cfg.HedgeMinDelay)
	stats := proxy.Stats()
	if stats.Faulted[http.MethodPut] != 1 || stats.Requests[http.MethodPut] != 2 {
		t.Fatalf("proxy saw %d PUTs, hung %d; want 2 and 1 (the first PUT and its hedge)", stats.Requests[http.MethodPut], stats.Faulted[http.MethodPut])
	}
	if len(storedAtCommit) != 1 || !storedAtCommit[0] {
		t.Fatalf("commits %v; want one, made with the object in MinIO", storedAtCommit)
	}
	got := events.of("a")
	if len(got) != 1 || !got[0].committed {
		t.Fatalf("sink events %+v; want one commit", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	ext := got[0].ext
	data, err := st.GetRange(ctx, got[0].key, ext.Pos, ext.Len)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, b.Data) {
		t.Fatalf("object %s holds other bytes than the batch flushed", got[0].key)
	}
}
