package objstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Requests seen by WithLatency stores, so bench/ can count object-store requests per second
// of a simulated S3 exactly.
var (
	simPuts    = metrics.NewCounter(`kafscale_sim_s3_requests_total{op="put"}`)
	simGets    = metrics.NewCounter(`kafscale_sim_s3_requests_total{op="get"}`)
	simLists   = metrics.NewCounter(`kafscale_sim_s3_requests_total{op="list"}`)
	simDeletes = metrics.NewCounter(`kafscale_sim_s3_requests_total{op="delete"}`)
)

// z99 is the standard normal quantile of 0.99: a log-normal's p99 is p50 * exp(sigma * z99).
const z99 = 2.3263478740408408

// LatencyDist is a log-normal request latency given by its median (P50) and 99th percentile
// (P99). P50 == P99 is a constant delay; P50 == 0 adds none.
type LatencyDist struct {
	P50, P99 time.Duration
}

// LatencyConfig gives the simulated latency of each request kind of a Store.
type LatencyConfig struct {
	// Put is the latency of Put (one request whatever the size: transfer time is not modelled).
	Put LatencyDist
	// Get is the latency of GetRange and GetSuffix (time to the whole, small, range).
	Get LatencyDist
	// List is the latency of List (one page).
	List LatencyDist
	// Delete is the latency of Delete.
	Delete LatencyDist
	// Seed makes the sequence of sampled delays repeatable.
	Seed uint64
}

// S3StandardLatency models S3 Standard, same region, small objects (up to a few MiB). Assumed
// figures, anchored on what is published:
//   - AWS, "Best Practices Design Patterns: Optimizing Amazon S3 Performance", section
//     "Timeouts and Retries for Latency-Sensitive Applications": for requests under 512 KB
//     "median latencies are often in the range of tens of milliseconds", and a GET or PUT
//     is worth retrying after 2 s (so the tail is far above the median, and bounded).
//     https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html
//   - AWS S3 User Guide, "Optimizing S3 Express One Zone performance": Express One Zone gives
//     "single-digit millisecond first-byte read and write request latencies — up to 10x
//     faster than S3 Standard", which puts Standard's first byte at tens of milliseconds.
//     https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-performance.html
//   - Measured 32-64 KiB ranged GETs from Lambda/EKS in-region: ~20 ms with a VPC endpoint,
//     28-47 ms per sample otherwise (github.com/blacha/s3-response-time, README).
//
// AWS publishes no p99; the p99/p50 ratio of 5 (PUT, GET, LIST) and 4 (DELETE) is an
// assumption, as is the log-normal shape. PUT's median sits above GET's because a flush
// object (up to flush.bytes, 4 MiB) is uploaded in the same request.
func S3StandardLatency() LatencyConfig {
	return LatencyConfig{
		Put:    LatencyDist{P50: 30 * time.Millisecond, P99: 150 * time.Millisecond},
		Get:    LatencyDist{P50: 20 * time.Millisecond, P99: 100 * time.Millisecond},
		List:   LatencyDist{P50: 30 * time.Millisecond, P99: 150 * time.Millisecond},
		Delete: LatencyDist{P50: 20 * time.Millisecond, P99: 80 * time.Millisecond},
		Seed:   1,
	}
}

// S3ExpressLatency models S3 Express One Zone: "consistent single-digit millisecond" first
// byte (same AWS page as S3StandardLatency); the p50 and p99 figures are assumptions.
func S3ExpressLatency() LatencyConfig {
	d := LatencyDist{P50: 4 * time.Millisecond, P99: 10 * time.Millisecond}
	return LatencyConfig{Put: d, Get: d, List: d, Delete: d, Seed: 1}
}

// S3PublishedLatency models S3 Standard as the object-store Kafka vendors publish it for
// flush-sized objects (1-8 MiB), the slower, tail-heavier sibling of S3StandardLatency.
// PUT (an object up to flush.bytes, 4 MiB):
//   - Aiven, Inkless (KIP-1150 diskless topics) performance guide: "for AWS S3 the upload
//     latency depends on the segment size, with observed P99 latencies of 200-400ms for 2-8
//     MiB segments". The p99 of 400 ms is the top of that range.
//     https://github.com/aiven/inkless/blob/main/docs/inkless/PERFORMANCE.md ("Write path")
//   - WarpStream, "The Art of Being Lazy(log)" (2025-02-04): "The minimum latency for a PUT
//     operation in traditional object stores is on the order of a few hundred
//     milliseconds", and WarpStream "typically achieves a p99 produce latency of 400ms in
//     its default configuration" (which adds its 250 ms batch timeout to the PUT).
//     https://www.warpstream.com/blog/the-art-of-being-lazy-log-lower-latency-and-higher-availability-with-delayed-sequencing
//   - turbopuffer, Architecture: S3 PUT latency p50 100 ms, p99 195 ms, p999 274 ms (object
//     size not stated). The p50 of 100 ms is this median. https://turbopuffer.com/docs/architecture
//
// GET (ranged): turbopuffer's S3 GET p50 63 ms (p50 60 ms here); Inkless's guide, "Read
// path": "for AWS S3, the latencies are around 100-200ms for 2-8 MiB objects" (p99 200 ms
// here). LIST and DELETE: no figures published by these sources; assumed like a GET
// (LIST) and a small PUT (DELETE: AWS's "tens of milliseconds" median for requests under
// 512 KB, see S3StandardLatency). The log-normal shape is an assumption too: none of the
// sources publishes a distribution.
func S3PublishedLatency() LatencyConfig {
	return LatencyConfig{
		Put:    LatencyDist{P50: 100 * time.Millisecond, P99: 400 * time.Millisecond},
		Get:    LatencyDist{P50: 60 * time.Millisecond, P99: 200 * time.Millisecond},
		List:   LatencyDist{P50: 60 * time.Millisecond, P99: 200 * time.Millisecond},
		Delete: LatencyDist{P50: 40 * time.Millisecond, P99: 150 * time.Millisecond},
		Seed:   1,
	}
}

// latencyProfiles are the names ParseLatency accepts for a whole configuration.
var latencyProfiles = map[string]func() LatencyConfig{
	"s3-standard":  S3StandardLatency,
	"s3-published": S3PublishedLatency,
	"s3-express":   S3ExpressLatency,
	"none":         func() LatencyConfig { return LatencyConfig{Seed: 1} },
}

// Validate reports the first distribution that cannot be sampled.
func (c LatencyConfig) Validate() error {
	for _, d := range []struct {
		op string
		d  LatencyDist
	}{{"put", c.Put}, {"get", c.Get}, {"list", c.List}, {"delete", c.Delete}} {
		if d.d.P50 < 0 || d.d.P99 < d.d.P50 || (d.d.P50 == 0 && d.d.P99 != 0) {
			return fmt.Errorf("%s latency must have 0 < p50 <= p99, or both 0 (set to p50:%s,p99:%s)", d.op, d.d.P50, d.d.P99)
		}
	}
	return nil
}

// ParseLatency reads a latency configuration: ";"-separated items applied in order, each a
// profile name (s3-standard, s3-published, s3-express, none), "seed=N", or "OP=p50:D,p99:D" with OP one of
// put, get, list, delete and D a Go duration. Operations not named add no latency, unless a
// profile set them first: "s3-standard;put=p50:50ms,p99:300ms" overrides PUT only.
func ParseLatency(spec string) (LatencyConfig, error) {
	cfg := LatencyConfig{Seed: 1}
	if strings.TrimSpace(spec) == "" {
		return cfg, errors.New("empty latency spec (want a profile such as s3-standard, or put=p50:30ms,p99:150ms;...)")
	}
	for item := range strings.SplitSeq(spec, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if profile, ok := latencyProfiles[item]; ok {
			seed := cfg.Seed
			cfg = profile()
			cfg.Seed = seed
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return cfg, fmt.Errorf("unknown latency profile %q (want s3-standard, s3-published, s3-express, none, or OP=p50:D,p99:D)", item)
		}
		if name == "seed" {
			seed, err := strconv.ParseUint(value, 10, 64)
			if err != nil {
				return cfg, fmt.Errorf("latency seed must be an unsigned integer (set to %q)", value)
			}
			cfg.Seed = seed
			continue
		}
		var dst *LatencyDist
		switch name {
		case "put":
			dst = &cfg.Put
		case "get":
			dst = &cfg.Get
		case "list":
			dst = &cfg.List
		case "delete":
			dst = &cfg.Delete
		default:
			return cfg, fmt.Errorf("unknown latency operation %q in %q (want put, get, list or delete)", name, item)
		}
		d, err := parseDist(value)
		if err != nil {
			return cfg, fmt.Errorf("cannot parse %s latency %q: %w", name, value, err)
		}
		*dst = d
	}
	return cfg, cfg.Validate()
}

// parseDist reads "p50:D,p99:D" (either may be left out: a lone p50 is a constant delay).
func parseDist(s string) (LatencyDist, error) {
	var d LatencyDist
	var has50, has99 bool
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return d, fmt.Errorf("want p50:D,p99:D, got %q", part)
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return d, err
		}
		switch k {
		case "p50":
			d.P50, has50 = dur, true
		case "p99":
			d.P99, has99 = dur, true
		default:
			return d, fmt.Errorf("unknown percentile %q (want p50 or p99)", k)
		}
	}
	switch {
	case !has50 && !has99:
		return d, errors.New("no percentile given")
	case !has99:
		d.P99 = d.P50
	case !has50:
		d.P50 = d.P99
	}
	return d, nil
}

// sampler draws delays from one LatencyDist. mu guards rng, shared by all operations of a
// store so that one seed fixes the whole sequence.
type sampler struct {
	mu    *sync.Mutex
	rng   *rand.Rand
	mu50  float64 // ln(p50 in ns)
	sigma float64
	off   bool
}

func newSampler(d LatencyDist, mu *sync.Mutex, rng *rand.Rand) sampler {
	if d.P50 <= 0 {
		return sampler{off: true}
	}
	return sampler{mu: mu, rng: rng, mu50: math.Log(float64(d.P50)), sigma: math.Log(float64(d.P99)/float64(d.P50)) / z99}
}

func (s sampler) sample() time.Duration {
	if s.off {
		return 0
	}
	s.mu.Lock()
	z := s.rng.NormFloat64()
	s.mu.Unlock()
	return time.Duration(math.Exp(s.mu50 + s.sigma*z))
}

// latencyStore delays every request of the Store it wraps.
type latencyStore struct {
	st                     Store
	put, get, list, delete sampler
}

// WithLatency returns a Store that waits, before passing each request to st, for a delay
// drawn from cfg's distribution for that request kind: a simulated S3 on a local directory,
// so that latency figures for real S3 can be planned on one machine. A request whose context
// ends during the delay fails with the context's error and never reaches st. cfg must be
// valid (see Validate).
func WithLatency(st Store, cfg LatencyConfig) Store {
	mu := &sync.Mutex{}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	return &latencyStore{
		st:     st,
		put:    newSampler(cfg.Put, mu, rng),
		get:    newSampler(cfg.Get, mu, rng),
		list:   newSampler(cfg.List, mu, rng),
		delete: newSampler(cfg.Delete, mu, rng),
	}
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (l *latencyStore) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	simPuts.Inc()
	if err := wait(ctx, l.put.sample()); err != nil {
		return fmt.Errorf("cannot put object %s: %w", key, err)
	}
	return l.st.Put(ctx, key, parts, size)
}

func (l *latencyStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	simGets.Inc()
	if err := wait(ctx, l.get.sample()); err != nil {
		return nil, fmt.Errorf("cannot get object %s range: %w", key, err)
	}
	return l.st.GetRange(ctx, key, off, n)
}

func (l *latencyStore) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	simGets.Inc()
	if err := wait(ctx, l.get.sample()); err != nil {
		return nil, 0, fmt.Errorf("cannot get object %s suffix: %w", key, err)
	}
	return l.st.GetSuffix(ctx, key, n)
}

func (l *latencyStore) Delete(ctx context.Context, key string) error {
	simDeletes.Inc()
	if err := wait(ctx, l.delete.sample()); err != nil {
		return fmt.Errorf("cannot delete object %s: %w", key, err)
	}
	return l.st.Delete(ctx, key)
}

// DeleteMany waits one Delete latency for the whole batch, as for one DeleteObjects request.
func (l *latencyStore) DeleteMany(ctx context.Context, keys []string) error {
	simDeletes.Inc()
	if err := wait(ctx, l.delete.sample()); err != nil {
		return fmt.Errorf("cannot delete %d objects: %w", len(keys), err)
	}
	return l.st.DeleteMany(ctx, keys)
}

func (l *latencyStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	simLists.Inc()
	if err := wait(ctx, l.list.sample()); err != nil {
		return nil, fmt.Errorf("cannot list objects under %s: %w", prefix, err)
	}
	return l.st.List(ctx, prefix)
}
