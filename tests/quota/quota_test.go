// Package quota tests client quotas (issue 16, acceptance 5) with real clients against a
// `kafscale dev` broker: franz-go producers and consumers held near the byte rates set
// through AlterClientQuotas, seeing throttle_time_ms through franz-go's throttle hook,
// and Apache Kafka's kafka-configs setting and describing quotas.
package quota

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// Quota windows of the tests' broker: 11 windows of 200 ms, so that a rate is measured
// over about 2 s (Kafka's 11 × 1 s would need a minute of traffic per test), and the
// burst a client may send before it is held to its quota is that short.
var windowArgs = []string{"--quota-window-num", "11", "--quota-window-size", "200ms"}

const (
	quotaRate = 128 << 10 // bytes per second
	valueSize = 4 << 10
	// measureFrom and measureTo bound the span the rate is measured over: after the
	// initial burst the quota allows (about 2 s of it), for several seconds.
	measureFrom = 2500 * time.Millisecond
	measureTo   = 10500 * time.Millisecond
	// tolerance is how far the measured rate may be from the quota, as a ratio.
	tolerance = 0.3
	// consumerFloor is the lowest ratio of its quota a throttled consumer may read at.
	consumerFloor = 0.6
)

// throttles counts the throttles franz-go reports (kgo.HookBrokerThrottle).
type throttles struct{ n, ms atomic.Int64 }

func (h *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
		h.ms.Add(d.Milliseconds())
	}
}

// setQuota sets key of the entity entityType=name through AlterClientQuotas (opts are the
// admin client's, such as its SASL login) and waits until the broker describes it.
func setQuota(t *testing.T, addr, entityType, name, key string, v float64, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	entity := kadm.ClientQuotaEntity{{Type: entityType, Name: &name}}
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: key, Value: v}}}})
	if err != nil {
		t.Fatalf("AlterClientQuotas: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("AlterClientQuotas %s: %v (%s)", r.Entity, r.Err, r.ErrMessage)
		}
	}
	// The broker enforces what its etcd watch brought; Describe answers from the same set.
	kafkatest.WaitFor(t, 10*time.Second, "the quota to be described", func() bool {
		d, err := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: entityType, MatchName: &name, MatchType: 0}})
		if err != nil || len(d) != 1 {
			return false
		}
		for _, v2 := range d[0].Values {
			if v2.Key == key && v2.Value == v {
				return true
			}
		}
		return false
	})
}

// rateBetween returns the rate of count (a byte counter) between measureFrom and
// measureTo after start, sampling it at those two instants.
func rateBetween(t *testing.T, start time.Time, count func() int64) float64 {
	t.Helper()
	waitUntil(start.Add(measureFrom))
	from := count()
	waitUntil(start.Add(measureTo))
	to := count()
	return float64(to-from) / (measureTo - measureFrom).Seconds()
}

// waitUntil blocks until at: the measurement instants are the condition waited for.
func waitUntil(at time.Time) {
	timer := time.NewTimer(time.Until(at))
	defer timer.Stop()
	<-timer.C
}

// produceFor produces valueSize records to topic until ctx ends, as fast as the client
// is let, and counts the bytes acknowledged.
func produceFor(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, acked *atomic.Int64) {
	value := bytes.Repeat([]byte{'q'}, valueSize)
	for ctx.Err() == nil {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(r *kgo.Record, err error) {
			if err == nil {
				acked.Add(int64(len(r.Value)))
			} else if ctx.Err() == nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
}

// TestProducerHeldNearQuota: a producer whose client id has a producer_byte_rate is held
// near it and sees throttle_time_ms; a producer with another client id, at the same
// time, is not throttled.
func TestProducerHeldNearQuota(t *testing.T) {
	p := testbroker.Start(t, windowArgs...)
	const topic = "quota-produce"
	kafkatest.CreateTopic(t, p.Addr, topic, 1)
	setQuota(t, p.Addr, "client-id", "throttled-producer", "producer_byte_rate", quotaRate)

	newProducer := func(id string, h *throttles) *kgo.Client {
		return kafkatest.NewIdempotentProducer(t, p.Addr, kgo.ClientID(id), kgo.WithHooks(h),
			kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
			kgo.ProducerBatchMaxBytes(16<<10), kgo.MaxBufferedRecords(64), kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	var slow, free throttles
	var slowAcked, freeAcked atomic.Int64
	slowCl, freeCl := newProducer("throttled-producer", &slow), newProducer("free-producer", &free)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 2)
	start := time.Now()
	go func() { produceFor(ctx, t, slowCl, topic, &slowAcked); done <- struct{}{} }()
	go func() { produceFor(ctx, t, freeCl, topic, &freeAcked); done <- struct{}{} }()
	rate := rateBetween(t, start, slowAcked.Load)
	cancel()
	<-done
	<-done

	t.Logf("throttled producer: %.0f B/s against a %d B/s quota, %d throttles (%d ms); unthrottled producer: %d bytes acked, %d throttles",
		rate, quotaRate, slow.n.Load(), slow.ms.Load(), freeAcked.Load(), free.n.Load())
	if ratio := rate / quotaRate; ratio < 1-tolerance || ratio > 1+tolerance {
		t.Errorf("throttled producer's rate is %.2f of its quota, want within %.0f%%", ratio, tolerance*100)
	}
	if slow.n.Load() == 0 {
		t.Error("the throttled producer saw no throttle_time_ms")
	}
	if free.n.Load() != 0 {
		t.Errorf("a producer without quota was throttled %d times", free.n.Load())
	}
	if freeAcked.Load() == 0 {
		t.Error("the producer without quota produced nothing")
	}
}

// TestConsumerHeldNearQuota: a consumer whose client id has a consumer_byte_rate reads a
// backlog near that rate and sees throttle_time_ms; one with another client id reads the
// same backlog without a throttle.
func TestConsumerHeldNearQuota(t *testing.T) {
	p := testbroker.Start(t, windowArgs...)
	const topic = "quota-fetch"
	kafkatest.CreateTopic(t, p.Addr, topic, 1)
	// A backlog larger than the quota lets through by measureTo (burst included).
	backlog := int64(quotaRate) * 16
	pr := kafkatest.NewIdempotentProducer(t, p.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := bytes.Repeat([]byte{'c'}, valueSize)
	for sent := int64(0); sent < backlog; sent += valueSize {
		pr.Produce(t.Context(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := pr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	setQuota(t, p.Addr, "client-id", "throttled-consumer", "consumer_byte_rate", quotaRate)

	consume := func(ctx context.Context, id string, h *throttles, got *atomic.Int64) {
		// Batches and fetches of 16 KiB, smaller than the quota allows in one window: a
		// batch is sent even past the fetch's bound, and one of several windows' worth
		// makes the consumer wait for that window to leave the span.
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ClientID(id), kgo.WithHooks(h), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(16<<10), kgo.FetchMaxPartitionBytes(16<<10))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for ctx.Err() == nil && got.Load() < backlog {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { got.Add(int64(len(r.Value))) })
			fs.EachError(func(_ string, _ int32, err error) {
				if ctx.Err() == nil {
					t.Errorf("fetch: %v", err)
				}
			})
		}
	}
	var slow, free throttles
	var slowGot, freeGot atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 2)
	start := time.Now()
	go func() { consume(ctx, "throttled-consumer", &slow, &slowGot); done <- struct{}{} }()
	go func() { consume(ctx, "free-consumer", &free, &freeGot); done <- struct{}{} }()
	rate := rateBetween(t, start, slowGot.Load)
	kafkatest.WaitFor(t, 60*time.Second, "the unthrottled consumer to read the backlog", func() bool { return freeGot.Load() >= backlog })
	cancel()
	<-done
	<-done

	t.Logf("throttled consumer: %.0f B/s against a %d B/s quota, %d throttles (%d ms); unthrottled consumer: %d bytes, %d throttles",
		rate, quotaRate, slow.n.Load(), slow.ms.Load(), freeGot.Load(), free.n.Load())
	// A consumer is held below its quota rather than at it (measured here: 0.81 of it;
	// docs/security.md says why), so the lower bound is wider.
	if ratio := rate / quotaRate; ratio < consumerFloor || ratio > 1+tolerance {
		t.Errorf("throttled consumer's rate is %.2f of its quota, want %.2f to %.2f", ratio, consumerFloor, 1+tolerance)
	}
	if slow.n.Load() == 0 {
		t.Error("the throttled consumer saw no throttle_time_ms")
	}
	if free.n.Load() != 0 {
		t.Errorf("a consumer without quota was throttled %d times", free.n.Load())
	}
}
