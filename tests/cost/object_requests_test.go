package cost

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestObjectRequestsAreCountedForEveryStore: `kafscale dev` on its local store and
// `kafscale broker` on MinIO both export kafscale_object_requests_total and
// kafscale_object_bytes_total, covering at least the flush objects and segments they wrote
// (PUT), the flush ranges merging read (GET) and GC's listing (LIST). Guards the wrapping in
// cmd/kafscale's newDeps, which bench/cmd/kcost's cost figures rely on.
func TestObjectRequestsAreCountedForEveryStore(t *testing.T) {
	lifecycle := []string{"--merge-age", "1s", "--merge-interval", "200ms", "--gc-interval", "1s"}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (addr, metricsAddr string)
	}{
		{"dev on the local store", func(t *testing.T) (string, string) {
			p := testbroker.Start(t, lifecycle...)
			return p.Addr, p.MetricsAddr
		}},
		{"broker on MinIO", func(t *testing.T) (string, string) {
			etcd := testinfra.StartEtcd(t)
			minio := testinfra.StartMinIO(t)
			b := testbroker.StartBroker(t, etcd.Endpoints(), testbroker.S3{
				Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
				AccessKey: minio.AccessKey, SecretKey: minio.SecretKey,
			}, lifecycle...)
			return b.Addr, b.MetricsAddr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, metricsAddr := tc.start(t)
			kafkatest.CreateTopic(t, addr, "counted", 4)
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			recs := make([]*kgo.Record, 200)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "counted", Value: fmt.Appendf(nil, "value-%d", i)}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			kafkatest.WaitUntil(t, 60*time.Second, "object requests counted", func() error {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				m, err := kafkatest.ScrapeMetrics(sctx, metricsAddr)
				if err != nil {
					return err
				}
				puts := kafkatest.MetricSample(m, `kafscale_object_requests_total{op="put"}`)
				written := kafkatest.MetricValue(m, "kafscale_flush_objects_total") + kafkatest.MetricValue(m, "kafscale_merge_segments_total")
				putBytes := kafkatest.MetricSample(m, `kafscale_object_bytes_total{op="put"}`)
				writtenBytes := kafkatest.MetricValue(m, "kafscale_flush_bytes_total") + kafkatest.MetricValue(m, "kafscale_merge_bytes_total")
				gets := kafkatest.MetricSample(m, `kafscale_object_requests_total{op="get"}`)
				lists := kafkatest.MetricSample(m, `kafscale_object_requests_total{op="list"}`)
				switch {
				case kafkatest.MetricValue(m, "kafscale_merge_segments_total") < 1:
					return fmt.Errorf("no segment merged yet")
				case puts < written:
					return fmt.Errorf("PUTs counted %v < flush objects and segments written %v", puts, written)
				case putBytes < writtenBytes:
					return fmt.Errorf("PUT bytes counted %v < flush and segment bytes written %v", putBytes, writtenBytes)
				case gets < 1 || kafkatest.MetricSample(m, `kafscale_object_bytes_total{op="get"}`) < 1:
					return fmt.Errorf("GETs counted %v: merging read nothing", gets)
				case lists < 1:
					return fmt.Errorf("LISTs counted %v: GC listed nothing", lists)
				}
				return nil
			})
		})
	}
}
