package s3

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/meta"
)

// objectKeys lists the bucket's keys under prefix.
func objectKeys(t *testing.T, minio *testinfra.MinIO, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	pages := awss3.NewListObjectsV2Paginator(minio.Client(), &awss3.ListObjectsV2Input{Bucket: aws.String(minio.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("cannot list %s in the bucket: %v", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// metaStore connects to the cluster's etcd directly (not through any fault proxy).
func metaStore(t *testing.T, etcd *testinfra.Etcd) *meta.Store {
	t.Helper()
	cli, err := meta.NewClient(etcd.Endpoints(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return meta.New(cli, meta.DefaultConfig(), nil)
}

// missingCommitted returns the objects etcd references (segments, and the objects/ entries
// of brokers) that are not in the bucket: each is acknowledged data that GC deleted
// although its commit landed. An object counts only if etcd still references it after the
// bucket was listed, since GC deletes a reference before its object.
func missingCommitted(t *testing.T, s *meta.Store, minio *testinfra.MinIO, brokers ...int32) []string {
	t.Helper()
	referenced := func() map[string]bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		refs, err := s.ListAllSegmentKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range brokers {
			objs, err := s.ListBrokerObjects(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				refs[o.Entry.Key] = true
			}
		}
		return refs
	}
	before := referenced()
	stored := append(objectKeys(t, minio, "segments/"), objectKeys(t, minio, "flush/")...)
	after := referenced()
	var missing []string
	for k := range before {
		if after[k] && !slices.Contains(stored, k) {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	return missing
}
