package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestRequestMetrics (issue 14, acceptance 4): every served API has a request counter and a
// duration histogram, exported at zero from the start and counting the requests served.
func TestRequestMetrics(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	createTopic(t, c, topic, 1, nil)
	produceOK(t, c, topic, 0, batchOf(3, 10))
	fetchAll(t, c, topic, 0)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	text, err := kafkatest.ScrapeMetrics(sctx, b.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []string{"Produce", "Fetch", "CreateTopics"} {
		if n := kafkatest.MetricSample(text, `kafscale_requests_total{api="`+api+`"}`); n < 1 {
			t.Errorf("kafscale_requests_total{api=%q} = %v after one request", api, n)
		}
		if n := kafkatest.MetricSample(text, `kafscale_request_duration_seconds_count{api="`+api+`"}`); n < 1 {
			t.Errorf("kafscale_request_duration_seconds_count{api=%q} = %v after one request", api, n)
		}
	}
	// An API nobody called yet is there, at zero.
	for _, series := range []string{`kafscale_requests_total{api="DeleteRecords"} 0`, `kafscale_request_duration_seconds_count{api="DeleteRecords"} 0`,
		`kafscale_request_duration_seconds_bucket{api="DeleteRecords",le="0.001"} 0`} {
		if !strings.Contains(text, series+"\n") {
			t.Errorf("the scrape lacks %q", series)
		}
	}
}
