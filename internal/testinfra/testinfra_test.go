package testinfra

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestEtcdKeepsDataAcrossStopAndStart(t *testing.T) {
	e := StartEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put: %v", err)
	}
	e.Stop()
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = cli.Get(short, "k")
	cancelShort()
	if err == nil {
		t.Fatal("get succeeded while etcd was stopped")
	}
	e.Start()
	resp, err := cli.Get(ctx, "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get after restart: %v, %v; want v", resp, err)
	}
}

func TestMinIOKeepsObjectsAcrossStopAndStart(t *testing.T) {
	m := StartMinIO(t)
	cli := m.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("a/b"), Body: strings.NewReader("hello"), IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	// MinIO honours If-None-Match: the broker's flush keys rely on it.
	_, err = cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("a/b"), Body: strings.NewReader("again"), IfNoneMatch: aws.String("*")})
	if err == nil {
		t.Fatal("second conditional put succeeded; want 412 PreconditionFailed")
	}
	m.Stop()
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	_, err = cli.HeadBucket(short, &s3.HeadBucketInput{Bucket: aws.String(m.Bucket)})
	cancelShort()
	if err == nil {
		t.Fatal("HeadBucket succeeded while minio was stopped")
	}
	m.Start()
	out, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("a/b")})
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("object after restart = %q; want hello", b)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and stops the goroutine,
// as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestMissingBinaryFailsNamingTheInstallScript guards against a missing server binary
// turning into a skipped (and so silently green) integration test.
func TestMissingBinaryFailsNamingTheInstallScript(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		binary(rec, "etcd")
	}()
	<-done
	if !strings.Contains(rec.msg, "scripts/test-deps.sh") || !strings.Contains(rec.msg, "etcd") {
		t.Fatalf("missing binary message = %q; want it to name etcd and scripts/test-deps.sh", rec.msg)
	}
}
