package broker

// Client quotas (docs/security.md "Quotas"): the quotas stored in etcd (meta/quotas.go)
// are loaded at Open and kept current by a watch; Produce and Fetch record the bytes of
// each request against the quota that applies to the connection's user and client id
// (package quota), and every answer records the request's handler time against its
// request_percentage (KIP-124; handlerClock says what is counted). When a request takes a
// rate over its quota it is answered with throttle_time_ms (the longest of the quotas'
// throttles) and the connection is muted for that long (KIP-219: the response goes out at
// once, and the client waits as well). The rates are this broker's own, as Kafka's are
// per broker.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/quota"
	"github.com/kafscale/kafscale/reqmetrics"
	"github.com/kafscale/kafscale/sasl"
)

// quotaRequestTimeout bounds the etcd work of one quota request.
const quotaRequestTimeout = 10 * time.Second

// Throttled requests by API: Produce and Fetch are exported from the start, at zero; the
// other APIs, throttled only by request_percentage, appear when first throttled.
var (
	throttledProduce = metrics.NewCounter(`kafscale_quota_throttled_requests_total{api="Produce"}`)
	throttledFetch   = metrics.NewCounter(`kafscale_quota_throttled_requests_total{api="Fetch"}`)
)

// nanosPerPercent turns a request_percentage into handler nanoseconds per second: 100% is
// one handler busy all the time (Kafka's NanosToPercentagePerSecond, inverted).
const nanosPerPercent = float64(time.Second/time.Nanosecond) / 100

// QuotaConfig holds the quota windows (Kafka's quota.window.num and
// quota.window.size.seconds).
type QuotaConfig struct {
	// Samples is the number of windows a rate is measured over (--quota-window-num).
	Samples int
	// Window is the length of one (--quota-window-size).
	Window time.Duration
}

// DefaultQuotaConfig returns Kafka's defaults: 11 windows of 1 s.
func DefaultQuotaConfig() QuotaConfig {
	return QuotaConfig{Samples: quota.DefaultSamples, Window: quota.DefaultWindow}
}

// loadQuotas gives the broker the stored quotas before it serves, so that no request is
// measured against an empty set.
func (b *Broker) loadQuotas(ctx context.Context) error {
	all, _, err := b.meta.ListQuotas(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the client quotas: %w", err)
	}
	b.quotas.Store(&all)
	return nil
}

// watchQuotas keeps the broker's quotas equal to etcd's until the broker closes.
func (b *Broker) watchQuotas() {
	for all := range b.meta.WatchQuotas(b.ctx) {
		b.quotas.Store(&all)
		b.log.Debug("client quotas updated", "entities", len(all))
	}
}

// throttle records n bytes of this request against the quota of kind (quota.ProducerByteRate
// or quota.ConsumerByteRate) that applies to the connection, and returns the throttle
// time to answer with (0: none); when it is not 0 the connection is muted for that long.
// undo takes the bytes back, for an answer that goes without them (nil when no quota
// applies).
func (c *call) throttle(b *Broker, kind string, n int64) (ms int32, undo func()) {
	set := b.quotas.Load()
	if set == nil || b.quotaRates == nil {
		return 0, nil
	}
	user := strings.TrimPrefix(c.req.Conn.Principal(), "User:")
	limit, k, ok := set.Resolve(kind, user, c.hdr.ClientID)
	if !ok {
		return 0, nil
	}
	tr := b.quotaRates[kind]
	now := time.Now()
	d := tr.Record(k, n, limit, now)
	undo = func() { tr.Unrecord(k, n, now) }
	if d <= 0 {
		return 0, undo
	}
	c.countThrottled()
	c.req.Conn.Mute(d)
	return int32(d.Milliseconds()), undo
}

// requestThrottle records the request's handler time (c.clock) against the
// request_percentage that applies to the connection, once, as the answer is about to go
// out (Kafka records it when it sends the response), and returns the throttle time in ms
// to answer with (0: none; Kafka's rounding, so a throttle under half a millisecond is
// none); when it is not 0 the connection is muted for that long. A request exempt from
// the quota (requestQuotaExempt) is not recorded.
func (c *call) requestThrottle() int32 {
	busy, first := c.clock.take(time.Now())
	b := c.broker
	if !first || c.quotaExempt || b == nil || b.quotaRates == nil {
		return 0
	}
	set := b.quotas.Load()
	if set == nil {
		return 0
	}
	limit, k, ok := set.Resolve(quota.RequestPercentage, strings.TrimPrefix(c.req.Conn.Principal(), "User:"), c.hdr.ClientID)
	if !ok {
		return 0
	}
	d := b.quotaRates[quota.RequestPercentage].Record(k, int64(busy), limit*nanosPerPercent, time.Now())
	ms := int32(d.Round(time.Millisecond) / time.Millisecond)
	if ms <= 0 {
		return 0
	}
	c.countThrottled()
	c.req.Conn.Mute(d)
	return ms
}

// countThrottled counts the request once in kafscale_quota_throttled_requests_total,
// however many of its quotas throttle it. Only the goroutine answering the request calls
// it (after the handler's, which started it).
func (c *call) countThrottled() {
	if c.throttleCounted {
		return
	}
	c.throttleCounted = true
	switch c.hdr.APIKey {
	case int16(kmsg.Produce):
		throttledProduce.Inc()
	case int16(kmsg.Fetch):
		throttledFetch.Inc()
	default:
		metrics.GetOrCreateCounter(fmt.Sprintf(`kafscale_quota_throttled_requests_total{api=%q}`, reqmetrics.APIName(c.hdr.APIKey))).Inc()
	}
}

// requestQuotaExempt reports whether a request is left out of request_percentage: the
// SASL requests, and any request on a SASL connection that is not authenticated (or is
// re-authenticating), as Kafka serves those in its network threads' authenticator, outside
// the request quota, before the principal the quota would apply to is known. KafScale
// serves none of the inter-broker requests Kafka also exempts (cluster actions), and
// acks=0 Produce, exempt in Kafka too, gets no answer to record at.
func requestQuotaExempt(apiKey int16, auth *sasl.Session) bool {
	switch apiKey {
	case int16(kmsg.SASLHandshake), int16(kmsg.SASLAuthenticate):
		return true
	}
	return auth != nil && !auth.Authenticated()
}

// handlerClock measures a request's handler time for request_percentage. KafScale has no
// pool of request handler threads: a request is served by its connection's dispatcher
// goroutine (netio), and one that waits (Produce for its acks, a Fetch parked for data)
// hands its answer to a goroutine of its own and lets the dispatcher go. What is counted
// is the time the request is being worked on: from the start of Serve (decoding
// included) until the handler returns, plus the time from a parked request's wake-up
// (resume) until its answer; the waits for acks and for data are not counted, as Kafka
// does not count the time a request spends in purgatory. Safe for concurrent use: a
// parked request may be answered before the dispatcher has left Serve.
type handlerClock struct {
	mu   sync.Mutex
	busy time.Duration
	// since is the start of the segment being counted; zero while the request waits.
	since time.Time
	// taken is set once the time was recorded: what follows is not counted.
	taken bool
}

// resume starts counting at now (a parked request woke up); it does nothing while a
// segment is being counted.
func (h *handlerClock) resume(now time.Time) {
	h.mu.Lock()
	if h.since.IsZero() && !h.taken {
		h.since = now
	}
	h.mu.Unlock()
}

// pause stops counting at now (the handler returned, or a woken request parks again).
func (h *handlerClock) pause(now time.Time) {
	h.mu.Lock()
	if !h.since.IsZero() {
		h.busy += now.Sub(h.since)
		h.since = time.Time{}
	}
	h.mu.Unlock()
}

// take stops counting at now and returns the time counted; first is false if it was
// taken before (the request was recorded already).
func (h *handlerClock) take(now time.Time) (busy time.Duration, first bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.taken {
		return 0, false
	}
	if !h.since.IsZero() {
		h.busy += now.Sub(h.since)
		h.since = time.Time{}
	}
	h.taken = true
	return h.busy, true
}

// quotaEntity returns the quota entity a request names, checked as Kafka's
// ClientQuotaControlManager checks it: user and client-id, each at most once, a null
// name being the default; an ip entity is refused as not supported.
func quotaEntity(types []string, names []*string) (quota.Entity, error) {
	var e quota.Entity
	if len(types) == 0 {
		return e, newKafkaError(kerr.InvalidRequest, "Invalid empty client quota entity")
	}
	for i, typ := range types {
		p := quota.Default
		if names[i] != nil {
			p = quota.Named(*names[i])
		}
		var dst *quota.Part
		switch typ {
		case quotaUser:
			dst = &e.User
		case quotaClientID:
			dst = &e.ClientID
		case quotaIP:
			return e, newKafkaError(kerr.InvalidRequest, "ip quotas (connection_creation_rate) are not supported by KafScale")
		default:
			return e, newKafkaError(kerr.InvalidRequest, "Unhandled client quota entity type: %s", typ)
		}
		if dst.Present {
			return e, newKafkaError(kerr.InvalidRequest, "Invalid client quota entity: entity type %s appears more than once", typ)
		}
		*dst = p
	}
	return e, nil
}

// fetchQuotaBytes bounds a fetch answer of a client under a consumer quota to what the
// quota allows over the measured span's full windows, as Kafka's
// getMaxValueInQuotaWindow: a larger answer would always go over the quota, be answered
// without data and not counted, and the consumer would never make progress.
func (c *call) fetchQuotaBytes(b *Broker) int64 {
	set := b.quotas.Load()
	if set == nil {
		return math.MaxInt64
	}
	limit, _, ok := set.Resolve(quota.ConsumerByteRate, strings.TrimPrefix(c.req.Conn.Principal(), "User:"), c.hdr.ClientID)
	if !ok {
		return math.MaxInt64
	}
	span := time.Duration(b.cfg.Quota.Samples-1) * b.cfg.Quota.Window
	return max(1, int64(limit*span.Seconds()))
}

// throttleFetch measures a fetch answer's handler time against the request quota and its
// record bytes against the consumer quota; a fetch that either throttles is answered
// without its records (the client asks again for the same offsets after the throttle)
// and its bytes are not counted, as Kafka's KafkaApis does (getThrottledResponse,
// unrecordQuotaSensor), with the longer of the two throttles.
func (b *Broker) throttleFetch(c *call, resp *codec.FetchResponse) {
	reqT := c.requestThrottle()
	var n int64
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			for _, r := range resp.Topics[i].Partitions[j].Records {
				n += int64(len(r))
			}
		}
	}
	byteT, undo := c.throttle(b, quota.ConsumerByteRate, n)
	t := max(reqT, byteT)
	if t == 0 {
		return
	}
	if undo != nil {
		undo()
	}
	resp.ThrottleMillis = t
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			resp.Topics[i].Partitions[j].Records = nil
		}
	}
}
