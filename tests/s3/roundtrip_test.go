package s3

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/promserver"
)

// TestRoundTripAndRestartReadsFromS3 produces to 4 partitions and reads everything back,
// stops the broker with SIGTERM and starts it again: the new incarnation has an empty
// in-memory tail, so what it serves comes from the flush objects in MinIO, found through
// the checkpoints in etcd. New records then get the next dense offsets. Finally /metrics
// carries the metrics the issue names, and promtool accepts the scrape.
func TestRoundTripAndRestartReadsFromS3(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	b := c.broker
	const topic, partitions = "orders", 4
	kafkatest.CreateTopic(t, b.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, b.Addr), ledger, topic, partitions, "before", 2000)
	if err := ledger.Verify(kafkatest.ReadAll(t, b.Addr, topic, partitions)); err != nil {
		t.Fatalf("before restart: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	objs, err := c.minio.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.minio.Bucket), Prefix: aws.String("flush/")})
	if err != nil {
		t.Fatalf("cannot list flush objects in minio: %v", err)
	}
	if len(objs.Contents) == 0 {
		t.Fatal("no flush/ objects in the bucket after 2000 acknowledged records")
	}

	b.Term(30 * time.Second)
	b.Restart()
	read := kafkatest.ReadAll(t, b.Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	kafkatest.RequireExactlyOnce(t, read)
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, b.Addr), ledger, topic, partitions, "after", 400)
	if err := ledger.Verify(kafkatest.ReadAll(t, b.Addr, topic, partitions)); err != nil {
		t.Fatalf("after producing to the restarted broker: %v", err)
	}
	if ledger.Len() != 2400 {
		t.Fatalf("ledger holds %d acks, want 2400", ledger.Len())
	}

	m, err := b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"kafscale_produce_requests_total",
		"kafscale_fetch_requests_total",
		"kafscale_s3_upload_duration_ms",
		"kafscale_s3_download_duration_ms",
		"kafscale_cache_hit_ratio",
	} {
		if !hasMetric(m, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, name := range []string{"kafscale_produce_requests_total", "kafscale_fetch_requests_total", "kafscale_fetch_object_reads_total"} {
		if v := kafkatest.MetricValue(m, name); v <= 0 {
			t.Errorf("%s = %v after producing to and reading from the restarted broker; want > 0", name, v)
		}
	}
	// The histograms are in milliseconds: a PUT to MinIO takes more than 0.1 ms, which in
	// seconds (what UpdateDuration records) would read 0.0001.
	for _, name := range []string{"kafscale_s3_upload_duration_ms", "kafscale_s3_download_duration_ms"} {
		sum, n := kafkatest.MetricSample(m, name+"_sum"), kafkatest.MetricSample(m, name+"_count")
		if n == 0 || sum/n < 0.1 || sum/n > 60000 {
			t.Errorf("%s: %v requests, mean %v; want some, in milliseconds", name, n, sum/n)
		}
	}
	promserver.CheckMetrics(t, m)
}

// hasMetric reports whether a sample of name (or of its histogram series) is in text.
func hasMetric(text, name string) bool {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+"_") {
			return true
		}
	}
	return false
}
