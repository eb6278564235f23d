package broker

// Client quotas (docs/security.md "Quotas"): the quotas stored in etcd (meta/quotas.go)
// are loaded at Open and kept current by a watch; Produce and Fetch record the bytes of
// each request against the quota that applies to the connection's user and client id
// (package quota) and, when a request takes the rate over it, answer with throttle_time_ms
// and mute the connection for that long (KIP-219: the response goes out at once, and the
// client waits as well). The rates are this broker's own, as Kafka's are per broker.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/quota"
)

// quotaRequestTimeout bounds the etcd work of one quota request.
const quotaRequestTimeout = 10 * time.Second

var (
	throttledProduce = metrics.NewCounter(`kafscale_quota_throttled_requests_total{api="Produce"}`)
	throttledFetch   = metrics.NewCounter(`kafscale_quota_throttled_requests_total{api="Fetch"}`)
)

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
// time to answer with (0: none); when it is not 0 the connection is muted for that long,
// and with undo the bytes are taken back (the request is answered without them).
func (c *call) throttle(b *Broker, kind string, n int64, undo bool) int32 {
	set := b.quotas.Load()
	if set == nil || b.quotaRates == nil {
		return 0
	}
	user := strings.TrimPrefix(c.req.Conn.Principal(), "User:")
	limit, k, ok := set.Resolve(kind, user, c.hdr.ClientID)
	if !ok {
		return 0
	}
	tr := b.quotaRates[kind]
	now := time.Now()
	d := tr.Record(k, n, limit, now)
	if d <= 0 {
		return 0
	}
	if undo {
		tr.Unrecord(k, n, now)
	}
	if kind == quota.ProducerByteRate {
		throttledProduce.Inc()
	} else {
		throttledFetch.Inc()
	}
	c.req.Conn.Mute(d)
	return int32(d.Milliseconds())
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

// throttleFetch measures a fetch answer's record bytes against the consumer quota; a
// fetch that goes over it is answered without its records (the client asks again for
// the same offsets after the throttle) and they are not counted, as Kafka's KafkaApis
// does (getThrottledResponse, unrecordQuotaSensor).
func (b *Broker) throttleFetch(c *call, resp *codec.FetchResponse) {
	var n int64
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			for _, r := range resp.Topics[i].Partitions[j].Records {
				n += int64(len(r))
			}
		}
	}
	t := c.throttle(b, quota.ConsumerByteRate, n, true)
	if t == 0 {
		return
	}
	resp.ThrottleMillis = t
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			resp.Topics[i].Partitions[j].Records = nil
		}
	}
}
