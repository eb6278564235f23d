// Package fsck tests `kafscale fsck` against a real etcd server and a real MinIO server
// (internal/testinfra) holding what a real `kafscale broker` wrote: the check on a healthy
// and on a damaged bucket, and a rebuild of a wiped etcd from the bucket alone.
package fsck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/fsck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/objstore"
)

// brokerArgs make flush objects small and frequent, merge them into segments within about
// a second, and copy group offsets to the bucket every 200 ms, so that a few seconds of
// load leave segments, unmerged flush objects and offset snapshots in the bucket.
var brokerArgs = []string{"--flush-interval", "20ms", "--merge-interval", "200ms", "--merge-age", "1s",
	"--bucket-metadata-interval", "200ms", "--s3-request-timeout", "3s"}

// stores is one etcd server and one MinIO server.
type stores struct {
	etcd  *testinfra.Etcd
	minio *testinfra.MinIO
	s3    testbroker.S3
	st    objstore.Store // the test's own client of the bucket
}

func startStores(t *testing.T) *stores {
	t.Helper()
	s := &stores{etcd: testinfra.StartEtcd(t), minio: testinfra.StartMinIO(t)}
	s.s3 = testbroker.S3{Endpoint: s.minio.Endpoint, Region: s.minio.Region, Bucket: s.minio.Bucket,
		AccessKey: s.minio.AccessKey, SecretKey: s.minio.SecretKey}
	st, err := objstore.Open(context.Background(), "s3://"+s.minio.Bucket, objstore.S3Config{Endpoint: s.minio.Endpoint,
		Region: s.minio.Region, PathStyle: true, AccessKeyID: s.minio.AccessKey, SecretAccessKey: s.minio.SecretKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.st = st
	return s
}

// fsckRun is the outcome of one `kafscale fsck` process.
type fsckRun struct {
	code           int
	stdout, stderr string
	report         fsck.Report // parsed when --json was given
}

// runFsck runs `kafscale fsck` on etcd endpoints and the stores' bucket with extra flags.
func runFsck(t *testing.T, s *stores, etcd []string, args ...string) fsckRun {
	t.Helper()
	full := append([]string{"fsck", "--etcd-endpoints", strings.Join(etcd, ","),
		"--s3-bucket", s.s3.Bucket, "--s3-endpoint", s.s3.Endpoint, "--s3-region", s.s3.Region, "--s3-path-style"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbroker.PlainBinary(t), full...)
	cmd.Env = append(cmd.Environ(), "AWS_ACCESS_KEY_ID="+s.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.s3.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := fsckRun{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("cannot run kafscale fsck: %v", err)
	}
	for _, a := range args {
		if a == "--json" && r.code != 2 && out.Len() > 0 {
			if err := json.Unmarshal(out.Bytes(), &r.report); err != nil {
				t.Fatalf("kafscale fsck --json printed no report: %v\n%s\n%s", err, out.String(), errb.String())
			}
		}
	}
	return r
}

// findings returns the problems of a kind.
func (r fsckRun) problems(kind string) []fsck.Finding {
	var out []fsck.Finding
	for _, f := range r.report.Problems {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

// waitForObjects waits until the bucket holds at least n objects under prefix.
func waitForObjects(t *testing.T, s *stores, prefix string, n int) []objstore.ObjectInfo {
	t.Helper()
	var objs []objstore.ObjectInfo
	kafkatest.WaitUntil(t, 60*time.Second, "objects under "+prefix, func() error {
		var err error
		objs, err = s.st.List(context.Background(), prefix)
		if err == nil && len(objs) < n {
			err = errors.New("too few")
		}
		return err
	})
	return objs
}
