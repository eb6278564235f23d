//go:build !kafscale_nos3

package objstore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func newFakeS3Store(t *testing.T, cfg S3Config) (*S3, *fakeS3) {
	t.Helper()
	fake, url := newFakeS3(t, "bucket")
	cfg.Bucket = "bucket"
	cfg.Endpoint = url
	cfg.PathStyle = true
	cfg.Region = "us-east-1"
	cfg.AccessKeyID, cfg.SecretAccessKey = "test", "testsecret"
	cfg.MaxRetries = 1
	cfg.MaxBackoff = 10 * time.Millisecond
	st, err := NewS3(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, fake
}

// TestS3ConformanceAgainstFake runs the conformance suite through the real SDK client
// against the in-process fake; MinIO runs the same body in integration tests.
func TestS3ConformanceAgainstFake(t *testing.T) {
	st, _ := newFakeS3Store(t, S3Config{Prefix: "pre/fix"})
	testStore(t, st)
}

func TestS3LargePutUsesConditionalMultipart(t *testing.T) {
	st, fake := newFakeS3Store(t, S3Config{MultipartThreshold: minPartSize, PartSize: minPartSize})
	ctx := context.Background()
	whole := make([]byte, 2*minPartSize+12345)
	for i := range whole {
		whole[i] = byte(i * 7)
	}
	// Part boundaries of the input deliberately differ from S3 part boundaries.
	parts := [][]byte{whole[:100], whole[100 : minPartSize+1], whole[minPartSize+1:]}
	if err := st.Put(ctx, "big", parts, int64(len(whole))); err != nil {
		t.Fatal(err)
	}
	if got := fake.count("PUT part"); got != 3 {
		t.Errorf("uploaded %d parts; want 3", got)
	}
	got, err := st.GetRange(ctx, "big", 0, int64(len(whole)))
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("multipart object differs from input (err %v)", err)
	}
	if err := st.Put(ctx, "big", parts, int64(len(whole))); !errors.Is(err, ErrExists) {
		t.Fatalf("second multipart Put error = %v; want ErrExists", err)
	}
}

func TestS3SmallPutIsOneRequest(t *testing.T) {
	st, fake := newFakeS3Store(t, S3Config{})
	if err := st.Put(context.Background(), "small", [][]byte{[]byte("a"), []byte("b")}, 2); err != nil {
		t.Fatal(err)
	}
	if got := fake.count("PUT object"); got != 1 {
		t.Errorf("sent %d PutObject requests; want 1", got)
	}
	if got := fake.count("POST create-multipart"); got != 0 {
		t.Errorf("started %d multipart uploads; want 0", got)
	}
}

// TestS3MissingBucketIsNotNotFound guards against treating NoSuchBucket as an absent key,
// which would make a misconfigured broker believe objects vanished.
func TestS3MissingBucketIsNotNotFound(t *testing.T) {
	st, _ := newFakeS3Store(t, S3Config{})
	st.cfg.Bucket = "other"
	_, err := st.GetRange(context.Background(), "k", 0, 1)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRange on missing bucket error = %v; want a non-NotFound error", err)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		wantErr            bool
	}{
		{in: "bytes 0-9/10", first: 0, last: 9, total: 10},
		{in: "bytes 90-99/100", first: 90, last: 99, total: 100},
		{in: "bytes 5-4/10", wantErr: true},
		{in: "bytes 0-10/10", wantErr: true},
		{in: "bytes */10", wantErr: true},
		{in: "items 0-1/2", wantErr: true},
		{in: "bytes 0-1", wantErr: true},
		{in: "bytes -1-1/2", wantErr: true},
	} {
		first, last, total, err := parseContentRange(tc.in)
		if tc.wantErr != (err != nil) || !tc.wantErr && (first != tc.first || last != tc.last || total != tc.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, first, last, total, err)
		}
	}
}
