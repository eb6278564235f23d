//go:build !kafscale_nos3

package objstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// newMinIOStore returns an S3 store on a fresh MinIO server (real S3 semantics: conditional
// PUT, multipart, ranges), reached directly or through endpoint if it is set.
func newMinIOStore(t *testing.T, m *testinfra.MinIO, endpoint string, cfg S3Config) *S3 {
	t.Helper()
	if endpoint == "" {
		endpoint = m.Endpoint
	}
	cfg.Bucket, cfg.Endpoint, cfg.Region, cfg.PathStyle = m.Bucket, endpoint, m.Region, true
	cfg.AccessKeyID, cfg.SecretAccessKey = m.AccessKey, m.SecretKey
	st, err := NewS3(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestS3ConformanceAgainstMinIO runs the conformance suite against a real MinIO server.
func TestS3ConformanceAgainstMinIO(t *testing.T) {
	m := testinfra.StartMinIO(t)
	testStore(t, newMinIOStore(t, m, "", S3Config{Prefix: "pre/fix"}))
}

// TestS3MultipartAgainstMinIO checks that a multipart upload completes with If-None-Match
// on a real server: a second upload of the key is refused and the first one's bytes stay.
func TestS3MultipartAgainstMinIO(t *testing.T) {
	m := testinfra.StartMinIO(t)
	st := newMinIOStore(t, m, "", S3Config{MultipartThreshold: minPartSize, PartSize: minPartSize})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	whole := make([]byte, 2*minPartSize+12345)
	for i := range whole {
		whole[i] = byte(i * 7)
	}
	parts := [][]byte{whole[:100], whole[100 : minPartSize+1], whole[minPartSize+1:]}
	if err := st.Put(ctx, "big", parts, int64(len(whole))); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{1}, len(whole))
	if err := st.Put(ctx, "big", [][]byte{other}, int64(len(other))); !errors.Is(err, ErrExists) {
		t.Fatalf("second multipart Put error = %v; want ErrExists", err)
	}
	got, err := st.GetRange(ctx, "big", 0, int64(len(whole)))
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("multipart object differs from the first upload (err %v)", err)
	}
}

// TestS3MissingBucketAgainstMinIO guards against MinIO's NoSuchBucket being taken for an
// absent key.
func TestS3MissingBucketAgainstMinIO(t *testing.T) {
	m := testinfra.StartMinIO(t)
	st := newMinIOStore(t, m, "", S3Config{})
	st.cfg.Bucket = "no-such-bucket"
	_, err := st.GetRange(context.Background(), "k", 0, 1)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRange on a missing bucket error = %v; want a non-NotFound error", err)
	}
}

// TestS3RetriesServerErrorsAgainstMinIO puts MinIO behind a proxy that answers a share of
// requests with 500 InternalError or 503 SlowDown, some after MinIO already applied them
// (lost responses): every operation still succeeds through the SDK's retries, and a Put
// whose first attempt landed reports success or ErrExists, never a different object.
func TestS3RetriesServerErrorsAgainstMinIO(t *testing.T) {
	m := testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	st := newMinIOStore(t, m, proxy.URL(), S3Config{MaxRetries: 10, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, rule := range []s3fault.Rule{
		{Fault: s3fault.InternalError, Fraction: 0.3},
		{Fault: s3fault.SlowDown, Fraction: 0.3},
		{Fault: s3fault.InternalError, Fraction: 0.3, AfterForward: true},
	} {
		proxy.Set(rule)
		for i := range 20 {
			key := rule.Fault.String() + "/" + string(rune('a'+i))
			if rule.AfterForward {
				key = "lost/" + string(rune('a'+i))
			}
			data := []byte(key + "-data")
			if err := st.Put(ctx, key, [][]byte{data}, int64(len(data))); err != nil && !(rule.AfterForward && errors.Is(err, ErrExists)) {
				t.Fatalf("Put(%s) under %+v: %v", key, rule, err)
			}
			got, err := st.GetRange(ctx, key, 0, int64(len(data)))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("GetRange(%s) under %+v = %q, %v; want %q", key, rule, got, err, data)
			}
		}
	}
	st0 := proxy.Stats()
	if st0.Faulted["PUT"] == 0 || st0.Faulted["GET"] == 0 {
		t.Fatalf("proxy faulted %v; want PUTs and GETs faulted", st0.Faulted)
	}
	t.Logf("requests %v, faulted %v", st0.Requests, st0.Faulted)
}

// TestS3UnreachableServerFailsBounded: with MinIO stopped, a Put fails within its retry
// budget with an error that is neither ErrNotFound nor ErrExists, and works again once
// MinIO is back.
func TestS3UnreachableServerFailsBounded(t *testing.T) {
	m := testinfra.StartMinIO(t)
	st := newMinIOStore(t, m, "", S3Config{RequestTimeout: time.Second, MaxRetries: 2, MaxBackoff: 50 * time.Millisecond})
	m.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := st.Put(ctx, "k", [][]byte{[]byte("v")}, 1)
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) {
		t.Fatalf("Put with minio stopped error = %v; want a connection error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Put with minio stopped took %s; want it bounded by the retry budget", d)
	}
	m.Start()
	if err := st.Put(ctx, "k", [][]byte{[]byte("v")}, 1); err != nil {
		t.Fatalf("Put after minio returned: %v", err)
	}
}

// TestS3DeleteManyReportsPerKeyFailures: when S3's DeleteObjects answer lists a key as not
// deleted, DeleteMany returns a *DeleteError naming exactly that key, so GC retries only it.
func TestS3DeleteManyReportsPerKeyFailures(t *testing.T) {
	m := testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	st := newMinIOStore(t, m, proxy.URL(), S3Config{Prefix: "p"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := []string{"gc/a", "gc/bad", "gc/c"}
	for _, k := range keys {
		if err := st.Put(ctx, k, [][]byte{[]byte(k)}, int64(len(k))); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Set(s3fault.Rule{FailDeleteKeys: "bad"})
	before := proxy.Stats().Requests["POST"]
	err = st.DeleteMany(ctx, keys)
	var de *DeleteError
	if !errors.As(err, &de) || len(de.Failed) != 1 || de.Failed["gc/bad"] == nil {
		t.Fatalf("DeleteMany error = %v; want a *DeleteError for gc/bad alone", err)
	}
	if got := NotDeleted(keys, err); !slices.Equal(got, []string{"gc/bad"}) {
		t.Errorf("NotDeleted = %q; want [gc/bad]", got)
	}
	if n := proxy.Stats().Requests["POST"] - before; n != 1 {
		t.Errorf("DeleteMany of %d keys sent %d POSTs; want one DeleteObjects", len(keys), n)
	}
	for _, k := range []string{"gc/a", "gc/c"} {
		if _, err := st.GetRange(ctx, k, 0, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetRange(%s) after DeleteMany error = %v; want ErrNotFound", k, err)
		}
	}
}
