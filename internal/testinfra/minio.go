package testinfra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MinIO is a single-drive MinIO server process holding one bucket. Its methods are for the
// test goroutine.
type MinIO struct {
	// Endpoint is the S3 endpoint, http://127.0.0.1:<port> (use path-style addressing).
	Endpoint string
	// Region is the signing region the server accepts.
	Region string
	// Bucket is created at start.
	Bucket string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// DataDir holds the objects; it survives Stop.
	DataDir string

	p *process
}

// StartMinIO starts a MinIO server (the `minio` binary that scripts/test-deps.sh builds)
// with its data in a new t.TempDir() on free loopback ports, waits until it serves, and
// creates the bucket through the S3 API. It is killed when the test ends.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	path := binary(t, "minio")
	port, console := freePort(t), freePort(t)
	m := &MinIO{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		Region:    "us-east-1",
		Bucket:    "kafscale-test",
		AccessKey: "kafscale-test",
		SecretKey: "kafscale-test-secret",
		DataDir:   t.TempDir(),
	}
	args := []string{"server", m.DataDir, "--quiet",
		"--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console)}
	env := environ("MINIO_",
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_REGION="+m.Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	m.p = newProcess(t, "minio", path, args, env)
	m.p.cleanup()
	m.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(m.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		t.Fatalf("testinfra: cannot create bucket %s in minio at %s: %v\n%s", m.Bucket, m.Endpoint, err, m.Log(4<<10))
	}
	return m
}

// Start starts the server again on the same data and ports and waits until it serves.
func (m *MinIO) Start() {
	m.p.t.Helper()
	m.p.start()
	m.p.waitFor(60*time.Second, m.ready)
}

// Stop stops the server with SIGTERM (SIGKILL after 10 s); its data stays for Start.
func (m *MinIO) Stop() { m.p.stop() }

// Kill stops the server with SIGKILL; its data stays for Start.
func (m *MinIO) Kill() { m.p.kill() }

// Running reports whether the server process is alive.
func (m *MinIO) Running() bool { return m.p.running() }

// Log returns up to n trailing bytes of the server's output.
func (m *MinIO) Log(n int) string { return m.p.log.Tail(n) }

// Client returns an S3 client for the server, with the root credentials and path-style
// addressing, that does not retry (a test sees every failure).
func (m *MinIO) Client() *s3.Client {
	creds := aws.Credentials{AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, Source: "testinfra"}
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint),
		Region:       m.Region,
		UsePathStyle: true,
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		Retryer:      aws.NopRetryer{},
	})
}

// ready asks MinIO's readiness probe and then the S3 API itself: the probe answers 200
// a moment before the object layer is initialised (XMinioServerNotInitialized, 503).
func (m *MinIO) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/minio/health/ready: %d", resp.StatusCode)
	}
	if _, err := m.Client().ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		return fmt.Errorf("ListBuckets: %w", err)
	}
	return nil
}
