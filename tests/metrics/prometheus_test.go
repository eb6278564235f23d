// Package metrics checks a broker's metrics the way its operators read them: a real
// Prometheus (Debian's package) scrapes a `kafscale dev` every second and the test asks it
// PromQL through its HTTP API (issue 14, acceptance 4).
package metrics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/promserver"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// waitQuery polls PromQL expr until check accepts its samples.
func waitQuery(t *testing.T, prom *promserver.Server, expr string, check func([]promserver.Sample) error) []promserver.Sample {
	t.Helper()
	var got []promserver.Sample
	kafkatest.WaitUntil(t, 60*time.Second, expr, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var err error
		if got, err = prom.Query(ctx, expr); err != nil {
			return err
		}
		return check(got)
	})
	return got
}

// one accepts a single sample whose value want accepts.
func one(want func(float64) bool, what string) func([]promserver.Sample) error {
	return func(s []promserver.Sample) error {
		if len(s) != 1 {
			return fmt.Errorf("%d samples, want 1: %v", len(s), s)
		}
		if !want(s[0].Value) {
			return fmt.Errorf("value %v, want %s", s[0].Value, what)
		}
		return nil
	}
}

func equals(v float64) func([]promserver.Sample) error {
	return one(func(f float64) bool { return f == v }, fmt.Sprint(v))
}

// TestPrometheusReadsLagTrafficAndErrors produces 150 records, consumes the first 100 in a
// group that then stops, and asks Prometheus for that group's lag (50, per partition and
// summed), the topic's records and bytes in and their rate, and the error a produce to a
// missing partition got; after the group is deleted its lag series go stale.
func TestPrometheusReadsLagTrafficAndErrors(t *testing.T) {
	b := testbroker.Start(t, "--lag-interval", "1s")
	prom := promserver.Start(t, b.MetricsAddr)
	const topic, group = "orders", "billing"
	kafkatest.CreateTopic(t, b.Addr, topic, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(n int) {
		for i := range n {
			r := &kgo.Record{Value: fmt.Appendf(nil, "order-%04d", i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	produce(100)

	// A consumer group reads the 100 records, commits and leaves.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for read < 100 {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		read += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	consumer.Close()
	produce(50)

	// Lag per partition (25 each: round robin over 2 partitions) and for the group.
	waitQuery(t, prom, fmt.Sprintf(`sum(kafscale_consumer_group_lag{job="kafscale",group=%q,topic=%q})`, group, topic), equals(50))
	parts := waitQuery(t, prom, fmt.Sprintf(`kafscale_consumer_group_lag{group=%q,topic=%q}`, group, topic), func(s []promserver.Sample) error {
		if len(s) != 2 {
			return fmt.Errorf("%d partitions, want 2: %v", len(s), s)
		}
		return nil
	})
	for _, s := range parts {
		if s.Value != 25 {
			t.Errorf("lag of partition %s = %v, want 25", s.Labels["partition"], s.Value)
		}
	}

	// Traffic in: 150 records; bytes as the broker counted them, and a positive rate.
	waitQuery(t, prom, fmt.Sprintf(`kafscale_topic_records_in_total{topic=%q}`, topic), equals(150))
	scrape, err := b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bytesIn := kafkatest.MetricSample(scrape, fmt.Sprintf(`kafscale_topic_bytes_in_total{topic=%q}`, topic))
	if bytesIn < 150*10 {
		t.Fatalf("broker counts %v bytes in for 150 records of 10 bytes", bytesIn)
	}
	waitQuery(t, prom, fmt.Sprintf(`kafscale_topic_bytes_in_total{topic=%q}`, topic), equals(bytesIn))
	// Every byte appended went into a flush object, and none is pending once acknowledged.
	if objBytes := kafkatest.MetricSample(scrape, "kafscale_flush_object_bytes_sum"); objBytes < bytesIn {
		t.Errorf("flush objects hold %v bytes, less than the %v bytes appended", objBytes, bytesIn)
	}
	if pending := kafkatest.MetricSample(scrape, "kafscale_flush_pending_bytes"); pending != 0 {
		t.Errorf("%v bytes pending after every produce was acknowledged", pending)
	}
	waitQuery(t, prom, fmt.Sprintf(`rate(kafscale_topic_bytes_in_total{topic=%q}[1m])`, topic),
		one(func(f float64) bool { return f > 0 && f <= bytesIn }, fmt.Sprintf("in (0, %v]", bytesIn)))
	// The consumer read 100 records.
	waitQuery(t, prom, fmt.Sprintf(`kafscale_topic_records_out_total{topic=%q} >= 100`, topic), one(func(f float64) bool { return f >= 100 }, ">= 100"))

	// A produce to a partition the topic does not have: UNKNOWN_TOPIC_OR_PARTITION.
	code, err := kafkatest.ProduceCode(ctx, cl, topic, 7)
	if err != nil {
		t.Fatal(err)
	}
	if code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("produce to partition 7 answered %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
	waitQuery(t, prom, `kafscale_request_errors_total{api="Produce",error="UNKNOWN_TOPIC_OR_PARTITION"}`, equals(1))

	// Every series, the new ones included, passes promtool's checks.
	scrape, err = b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	promserver.CheckMetrics(t, scrape)

	// A deleted group's lag series leave the scrape, and Prometheus marks them stale.
	adm := kadm.NewClient(cl)
	if _, err := adm.DeleteGroup(ctx, group); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	waitQuery(t, prom, fmt.Sprintf(`kafscale_consumer_group_lag{group=%q}`, group), func(s []promserver.Sample) error {
		if len(s) > 0 {
			return fmt.Errorf("still %d series", len(s))
		}
		return nil
	})
	if scrape, err = b.Metrics(ctx); err == nil && strings.Contains(scrape, fmt.Sprintf(`group=%q`, group)) {
		t.Errorf("the deleted group's lag is still exported")
	}
}

// TestLagOfPartitionsLedByOtherBrokers checks the lag the coordinator computes for
// partitions other brokers lead (their high watermarks come by ListOffsets): three brokers,
// six partitions with 10 records each, a group committed at offset 4 everywhere; the
// coordinator alone exports lag 6 for each partition.
func TestLagOfPartitionsLedByOtherBrokers(t *testing.T) {
	const n = 3
	p := testbroker.StartDevCluster(t, n, "--lag-interval", "1s")
	targets := make([]string, n)
	for i := range targets {
		targets[i] = p.MetricsAddrOf(i)
	}
	prom := promserver.Start(t, targets...)
	const topic, group, partitions = "spread", "spread-readers", 6
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for part := range int32(partitions) {
		for i := range 10 {
			r := &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "%d-%d", part, i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce to partition %d: %v", part, err)
			}
		}
	}
	adm := kadm.NewClient(cl)
	var offsets kadm.Offsets
	for part := range int32(partitions) {
		offsets.Add(kadm.Offset{Topic: topic, Partition: part, At: 4, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}

	// The test means something only if the coordinator does not lead every partition.
	coord := adm.FindGroupCoordinators(ctx, group)
	if err := coord[group].Err; err != nil {
		t.Fatal(err)
	}
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := 0
	for _, pd := range md.Topics[topic].Partitions {
		if pd.Leader != coord[group].NodeID {
			elsewhere++
		}
	}
	if elsewhere == 0 {
		t.Fatalf("coordinator %d leads all %d partitions", coord[group].NodeID, partitions)
	}

	sel := fmt.Sprintf(`kafscale_consumer_group_lag{group=%q,topic=%q}`, group, topic)
	waitQuery(t, prom, `count(`+sel+`)`, equals(partitions))
	waitQuery(t, prom, `sum(`+sel+`)`, equals(6*partitions))
	waitQuery(t, prom, `count(count by (instance) (`+sel+`))`, equals(1))
	if got := waitQuery(t, prom, `max(`+sel+`) - min(`+sel+`)`, equals(0)); len(got) != 1 {
		t.Fatalf("lag differs between partitions: %v", got)
	}
	t.Logf("coordinator %d; %d of %d partitions led by the other brokers", coord[group].NodeID, elsewhere, partitions)
}

// TestHistogramsExportedFromTheStart checks that a fresh broker's first scrape holds the
// seed's millisecond histograms at zero (they used to be absent until first observed, so
// an alert on them saw no data after a restart) and the new unlabelled series.
func TestHistogramsExportedFromTheStart(t *testing.T) {
	b := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	scrape, err := b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, series := range []string{
		"kafscale_s3_upload_duration_ms_count",
		"kafscale_s3_download_duration_ms_count",
		`kafscale_s3_upload_duration_ms_bucket{le="+Inf"}`,
		"kafscale_flush_pending_bytes",
		"kafscale_flush_object_bytes_count",
		`kafscale_topic_bytes_in_total{topic="(other)"}`,
		"kafscale_consumer_group_lag_partitions",
		`kafscale_log_lines_suppressed_total{log="connection_errors"}`,
		`kafscale_object_request_outcomes_total{op="put",outcome="throttled"}`,
		`kafscale_object_request_outcomes_total{op="get",outcome="server_error"}`,
		`kafscale_object_request_duration_seconds_count{op="delete"}`,
		"kafscale_flush_object_records_count",
		"kafscale_flush_upload_duration_seconds_count",
		"kafscale_fetch_parked",
		"kafscale_fetch_parked_total",
		"kafscale_cache_bytes",
		"kafscale_cache_entries",
		"kafscale_tail_bytes",
	} {
		if !strings.Contains(scrape, "\n"+series+" 0\n") {
			t.Errorf("a fresh broker's scrape lacks %s at 0", series)
		}
	}
	for _, name := range []string{"kafscale_etcd_commit_duration_ms", "kafscale_flush_commit_duration_ms", "kafscale_flush_append_to_commit_ms", "kafscale_flush_partitions"} {
		if !strings.Contains(scrape, "\n"+name+"_count ") {
			t.Errorf("a fresh broker's scrape lacks %s_count", name)
		}
	}
	promserver.CheckMetrics(t, scrape)
}

// TestPrometheusReadsParkedFetchesObjectOutcomesAndCache: a consumer long-polling an empty
// topic shows as a parked fetch until records arrive; the flush objects those records went
// into count as successful PUTs (and no failure, which the object-store alert reads); the
// read cache reports the capacity --cache-bytes gave it.
func TestPrometheusReadsParkedFetchesObjectOutcomesAndCache(t *testing.T) {
	const cacheBytes = 48 << 20
	b := testbroker.Start(t, "--cache-bytes", fmt.Sprint(cacheBytes))
	prom := promserver.Start(t, b.MetricsAddr)
	const topic = "quiet"
	kafkatest.CreateTopic(t, b.Addr, topic, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	waitQuery(t, prom, `kafscale_cache_capacity_bytes`, equals(cacheBytes))
	waitQuery(t, prom, `kafscale_fetch_parked`, equals(0))
	// Long polls of 10 s: the consumer's fetches park while the topic is empty.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics(topic),
		kgo.FetchMaxWait(10*time.Second), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	polled := make(chan int, 1)
	go func() {
		n := 0
		for n < 5 && ctx.Err() == nil {
			n += consumer.PollFetches(ctx).NumRecords()
		}
		polled <- n
	}()
	waitQuery(t, prom, `kafscale_fetch_parked`, equals(1))
	waitQuery(t, prom, `kafscale_fetch_parked_total > 0`, one(func(f float64) bool { return f > 0 }, "> 0"))

	producer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	for i := range 5 {
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case n := <-polled:
		if n < 5 {
			t.Fatalf("consumer read %d records, want 5", n)
		}
	case <-ctx.Done():
		t.Fatal("consumer did not read the 5 records")
	}

	waitQuery(t, prom, `kafscale_object_request_outcomes_total{op="put",outcome="ok"} > 0`, one(func(f float64) bool { return f > 0 }, "> 0"))
	waitQuery(t, prom, `sum(kafscale_object_request_outcomes_total{outcome=~"throttled|server_error|client_error|timeout|network|other_error"})`, equals(0))
	waitQuery(t, prom, `kafscale_flush_object_records_sum >= 5`, one(func(f float64) bool { return f >= 5 }, ">= 5"))
	waitQuery(t, prom, `kafscale_flush_upload_duration_seconds_count > 0`, one(func(f float64) bool { return f > 0 }, "> 0"))
}
