package quota

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// smallRequestQuota is the request_percentage of the tests' busy client: 0.2% of one
// handler, 2 ms of handler time per second: some 25 cheap requests per second (measured:
// about 80 µs each under -race), where an unthrottled client sends hundreds to thousands.
const smallRequestQuota = 0.2

// nodeThrottles counts the throttles franz-go reports (kgo.HookBrokerThrottle) per broker
// (node ids 0 and 1).
type nodeThrottles struct{ n [2]atomic.Int64 }

func (h *nodeThrottles) OnBrokerThrottle(m kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 && m.NodeID >= 0 && int(m.NodeID) < len(h.n) {
		h.n[m.NodeID].Add(1)
	}
}

// cheapRequests sends Metadata and ListOffsets for topic's partition 0, in turn, to broker
// node through cl until ctx ends, as fast as the broker lets it, and counts the answers in
// answered.
func cheapRequests(ctx context.Context, t *testing.T, cl *kgo.Client, node int32, topic string, answered *atomic.Int64) {
	br := cl.Broker(int(node))
	for i := 0; ctx.Err() == nil; i++ {
		var err error
		if i%2 == 0 {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			_, err = req.RequestWith(ctx, br)
		} else {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = 0, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			_, err = req.RequestWith(ctx, br)
		}
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("request %d to broker %d: %v", i, node, err)
			}
			return
		}
		answered.Add(1)
	}
}

// rateOver returns how many answers count gained per second over the next d.
func rateOver(count *atomic.Int64, d time.Duration) float64 {
	from := count.Load()
	waitUntil(time.Now().Add(d))
	return float64(count.Load()-from) / d.Seconds()
}

// TestRequestQuotaThrottlesCheapRequests: a franz-go client sending Metadata and
// ListOffsets in a loop gets throttle_time_ms once its client id has a small
// request_percentage, and its request rate falls to a fraction of what it was; a client
// with another client id, sending the same at the same time, is not throttled. The
// throttled requests are counted by API.
func TestRequestQuotaThrottlesCheapRequests(t *testing.T) {
	p := testbroker.Start(t, windowArgs...)
	const topic = "quota-requests"
	kafkatest.CreateTopic(t, p.Addr, topic, 1)
	var busyH, freeH throttles
	var busyN, freeN atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 2)
	for _, c := range []struct {
		id string
		h  *throttles
		n  *atomic.Int64
	}{{"busy-client", &busyH, &busyN}, {"free-client", &freeH, &freeN}} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ClientID(c.id), kgo.WithHooks(c.h))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		go func() { cheapRequests(ctx, t, cl, 0, topic, c.n); done <- struct{}{} }()
	}
	defer func() { cancel(); <-done; <-done }()

	kafkatest.WaitFor(t, 30*time.Second, "both clients to be answered", func() bool { return busyN.Load() > 0 && freeN.Load() > 0 })
	before := rateOver(&busyN, 2*time.Second)
	setQuota(t, p.Addr, "client-id", "busy-client", "request_percentage", smallRequestQuota)
	kafkatest.WaitFor(t, 30*time.Second, "the busy client to see throttle_time_ms", func() bool { return busyH.n.Load() > 0 })
	after := rateOver(&busyN, 3*time.Second)
	freeAfter := rateOver(&freeN, time.Second)

	t.Logf("busy client: %.0f requests/s before request_percentage=%g, %.0f after (%d throttles, %d ms); free client: %.0f requests/s, %d throttles",
		before, smallRequestQuota, after, busyH.n.Load(), busyH.ms.Load(), freeAfter, freeH.n.Load())
	// The quota allows a few dozen cheap requests per second; unthrottled, the same client
	// sent hundreds. A quarter leaves room for a loaded machine either way.
	if after > before/4 {
		t.Errorf("the busy client's rate went from %.0f to %.0f requests/s under request_percentage=%g, want it to fall below a quarter", before, after, smallRequestQuota)
	}
	if freeH.n.Load() != 0 {
		t.Errorf("a client without quota was throttled %d times", freeH.n.Load())
	}
	if freeAfter == 0 {
		t.Error("the client without quota was not answered while the other was throttled")
	}
	mctx, mcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer mcancel()
	text, err := kafkatest.ScrapeMetrics(mctx, p.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	var counted float64
	for _, api := range []string{"Metadata", "ListOffsets"} {
		counted += kafkatest.MetricSample(text, fmt.Sprintf(`kafscale_quota_throttled_requests_total{api=%q}`, api))
	}
	if counted == 0 {
		t.Error(`no Metadata or ListOffsets request counted in kafscale_quota_throttled_requests_total`)
	}
}

// TestRequestQuotaRemovedOnEveryBroker: in a two-broker cluster, a request_percentage set
// for a client id through broker 0 throttles that client's cheap requests on both
// brokers (each measures its own rate); once the quota is removed through broker 0,
// neither broker throttles them any more.
func TestRequestQuotaRemovedOnEveryBroker(t *testing.T) {
	p := testbroker.StartDevCluster(t, 2, windowArgs...)
	const topic = "quota-requests-cluster"
	kafkatest.CreateTopic(t, p.Addr, topic, 1)
	setQuota(t, p.Addr, "client-id", "busy-client", "request_percentage", smallRequestQuota)

	var h nodeThrottles
	var answered [2]atomic.Int64
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ClientID("busy-client"), kgo.WithHooks(&h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 2)
	for node := range int32(2) {
		go func() { cheapRequests(ctx, t, cl, node, topic, &answered[node]); done <- struct{}{} }()
	}
	defer func() { cancel(); <-done; <-done }()
	kafkatest.WaitFor(t, 60*time.Second, "both brokers to throttle the busy client", func() bool { return h.n[0].Load() > 0 && h.n[1].Load() > 0 })

	adm := kadm.NewClient(cl)
	name := "busy-client"
	entity := kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}}
	actx, acancel := context.WithTimeout(t.Context(), time.Minute)
	defer acancel()
	res, err := adm.AlterClientQuotas(actx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Remove: true}}}})
	if err == nil && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("removing the quota: %v", err)
	}
	for node := range 2 {
		kafkatest.WaitUntil(t, 10*time.Second, fmt.Sprintf("broker %d to see the quota removed", node), func() error {
			resp, err := kmsg.NewPtrDescribeClientQuotasRequest().RequestWith(actx, cl.Broker(node))
			if err != nil {
				return err
			}
			if len(resp.Entries) != 0 {
				return fmt.Errorf("broker %d describes %d entries", node, len(resp.Entries))
			}
			return nil
		})
	}
	// Each loop sends one request at a time: two more answers mean any answer given before
	// the broker saw the removal has arrived (and been counted).
	var mark [2]int64
	for node := range 2 {
		from := answered[node].Load()
		kafkatest.WaitFor(t, 30*time.Second, fmt.Sprintf("two more answers from broker %d", node), func() bool { return answered[node].Load() >= from+2 })
	}
	for node := range 2 {
		mark[node] = h.n[node].Load()
	}
	var from [2]int64
	for node := range 2 {
		from[node] = answered[node].Load()
	}
	for node := range 2 {
		kafkatest.WaitFor(t, 60*time.Second, fmt.Sprintf("100 answers from broker %d without the quota", node), func() bool { return answered[node].Load() >= from[node]+100 })
	}
	for node := range 2 {
		if got := h.n[node].Load() - mark[node]; got != 0 {
			t.Errorf("broker %d throttled %d of the busy client's requests after the quota was removed", node, got)
		}
	}
	t.Logf("throttles before the removal: broker 0 %d, broker 1 %d", mark[0], mark[1])
}
