// Package s3 tests `kafscale broker` in production mode against a real etcd server and a
// real MinIO server (internal/testinfra), with real Kafka clients: round trips through S3,
// kill -9 under load, and etcd or S3 going away or misbehaving under load. Every test
// bounds its own duration.
package s3

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// cluster is one broker on its own etcd server and MinIO server.
type cluster struct {
	etcd   *testinfra.Etcd
	minio  *testinfra.MinIO
	proxy  *s3fault.Proxy // nil unless the broker reaches MinIO through it
	broker *testbroker.Broker
}

// clusterOpts says how to start a cluster.
type clusterOpts struct {
	proxy bool     // put an s3fault proxy between the broker and MinIO
	plain bool     // run a broker built without the race detector (memory bounds)
	args  []string // extra broker flags
}

// baseArgs keep flush objects small and frequent so a few seconds of load make many of
// them, and S3 attempts short so outages are noticed quickly.
var baseArgs = []string{"--flush-interval", "20ms", "--s3-request-timeout", "3s"}

func startCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{etcd: testinfra.StartEtcd(t), minio: testinfra.StartMinIO(t)}
	s3 := testbroker.S3{Endpoint: c.minio.Endpoint, Region: c.minio.Region, Bucket: c.minio.Bucket,
		AccessKey: c.minio.AccessKey, SecretKey: c.minio.SecretKey}
	if o.proxy {
		p, err := s3fault.Start(c.minio.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		c.proxy = p
		s3.Endpoint = p.URL()
	}
	start := testbroker.StartBroker
	if o.plain {
		start = testbroker.StartPlainBroker
	}
	c.broker = start(t, c.etcd.Endpoints(), s3, append(append([]string{}, baseArgs...), o.args...)...)
	if dir := os.Getenv("KAFSCALE_TEST_LOG_DIR"); dir != "" {
		// The whole broker log of a failed test, for debugging (the failure shows its tail).
		t.Cleanup(func() {
			if t.Failed() {
				path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".broker.log")
				_ = os.WriteFile(path, []byte(c.broker.LogTail(1<<30)), 0o644)
				t.Logf("broker log written to %s", path)
			}
		})
	}
	return c
}

// readyz asks /readyz once; a broker that does not answer counts as not ready.
func readyz(b *testbroker.Broker) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := b.Readyz(ctx)
	if err != nil {
		return 0, err.Error()
	}
	return code, body
}
