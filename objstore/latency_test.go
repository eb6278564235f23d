package objstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLatencyConformance: the wrapper keeps every Store semantic of what it wraps.
func TestLatencyConformance(t *testing.T) {
	cfg, err := ParseLatency("put=p50:200us,p99:1ms;get=p50:100us,p99:500us;list=p50:100us;delete=p50:100us")
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, WithLatency(newTestLocal(t), cfg))
}

// TestLatencySamplesMatchPercentiles: with a fixed seed, the sampled delays' p50 and p99 are
// those configured (log-normal fit), within sampling error.
func TestLatencySamplesMatchPercentiles(t *testing.T) {
	for _, d := range []LatencyDist{
		S3StandardLatency().Put,
		S3StandardLatency().Get,
		S3StandardLatency().Delete,
		S3PublishedLatency().Put,
		S3PublishedLatency().Get,
		S3PublishedLatency().Delete,
		S3ExpressLatency().Put,
		{P50: 10 * time.Millisecond, P99: 10 * time.Millisecond},
	} {
		s := newSampler(d, &sync.Mutex{}, rand.New(rand.NewPCG(7, 11)))
		const n = 50_000
		got := make([]time.Duration, n)
		for i := range got {
			got[i] = s.sample()
		}
		slices.Sort(got)
		p50, p99 := got[n/2], got[n*99/100]
		if !within(p50, d.P50, 0.03) || !within(p99, d.P99, 0.06) {
			t.Errorf("%+v: sampled p50 %s p99 %s", d, p50, p99)
		}
	}
}

func within(got, want time.Duration, rel float64) bool {
	diff := float64(got - want)
	return diff <= rel*float64(want) && -diff <= rel*float64(want)
}

// TestLatencySeedRepeats: one seed gives one sequence of delays, another seed another.
func TestLatencySeedRepeats(t *testing.T) {
	draw := func(seed uint64) []time.Duration {
		cfg := S3StandardLatency()
		cfg.Seed = seed
		l := WithLatency(nil, cfg).(*latencyStore)
		out := make([]time.Duration, 8)
		for i := range out {
			out[i] = l.get.sample()
		}
		return out
	}
	if a, b := draw(3), draw(3); !slices.Equal(a, b) {
		t.Fatalf("same seed, different delays: %v vs %v", a, b)
	}
	if a, b := draw(3), draw(4); slices.Equal(a, b) {
		t.Fatalf("different seeds, same delays: %v", a)
	}
}

// TestLatencyDelaysRequests: a constant 30 ms PUT latency makes Put take at least that long.
func TestLatencyDelaysRequests(t *testing.T) {
	st := WithLatency(newTestLocal(t), LatencyConfig{Put: LatencyDist{P50: 30 * time.Millisecond, P99: 30 * time.Millisecond}})
	start := time.Now()
	if err := st.Put(context.Background(), "a/b", [][]byte{[]byte("x")}, 1); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("Put took %s, want >= 30ms", el)
	}
	start = time.Now()
	if _, err := st.GetRange(context.Background(), "a/b", 0, 1); err != nil || time.Since(start) > 25*time.Millisecond {
		t.Fatalf("GetRange without configured latency: %v after %s", err, time.Since(start))
	}
}

// TestLatencyCanceledDuringDelay: a request whose context ends while it waits fails with the
// context's error and never reaches the wrapped store.
func TestLatencyCanceledDuringDelay(t *testing.T) {
	local := newTestLocal(t)
	st := WithLatency(local, LatencyConfig{Put: LatencyDist{P50: time.Hour, P99: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := st.Put(ctx, "a/b", [][]byte{[]byte("x")}, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put = %v, want DeadlineExceeded", err)
	}
	if _, err := local.GetRange(context.Background(), "a/b", 0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("object written despite canceled Put: %v", err)
	}
}

func TestParseLatency(t *testing.T) {
	std := S3StandardLatency()
	over := std
	over.Put = LatencyDist{P50: 50 * time.Millisecond, P99: 300 * time.Millisecond}
	over.Seed = 9
	tests := []struct {
		spec string
		want LatencyConfig
		err  string
	}{
		{spec: "s3-standard", want: std},
		{spec: "s3-express", want: S3ExpressLatency()},
		{spec: "s3-published", want: S3PublishedLatency()},
		{spec: "seed=9;s3-published", want: func() LatencyConfig { c := S3PublishedLatency(); c.Seed = 9; return c }()},
		{spec: "seed=9; s3-standard; put=p50:50ms,p99:300ms", want: over},
		{spec: "put=p50:30ms,p99:80ms;get=p50:15ms,p99:60ms", want: LatencyConfig{
			Put:  LatencyDist{30 * time.Millisecond, 80 * time.Millisecond},
			Get:  LatencyDist{15 * time.Millisecond, 60 * time.Millisecond},
			Seed: 1,
		}},
		{spec: "get=p50:5ms", want: LatencyConfig{Get: LatencyDist{5 * time.Millisecond, 5 * time.Millisecond}, Seed: 1}},
		{spec: "", err: "empty"},
		{spec: "s3-glacier", err: "unknown latency profile"},
		{spec: "head=p50:1ms", err: "unknown latency operation"},
		{spec: "put=p50:1x", err: "cannot parse put latency"},
		{spec: "put=p90:1ms", err: "unknown percentile"},
		{spec: "put=p50:80ms,p99:30ms", err: "put latency must have"},
		{spec: "seed=-1", err: "seed"},
	}
	for _, tc := range tests {
		got, err := ParseLatency(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseLatency(%q) = %v, want error containing %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseLatency(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

// TestS3PublishedAnchors: the s3-published profile keeps the figures it cites (latency.go,
// docs/benchmarks.md "Simulated S3"): a flush object's PUT p50 100 ms (turbopuffer's S3 PUT
// median) and p99 400 ms (the top of Inkless's 200-400 ms for 2-8 MiB), a GET p99 of 200 ms
// (Inkless's 100-200 ms for 2-8 MiB reads), and every request slower than s3-standard's at
// the tail, which is what the profile is for.
func TestS3PublishedAnchors(t *testing.T) {
	pub, std := S3PublishedLatency(), S3StandardLatency()
	if pub.Put != (LatencyDist{P50: 100 * time.Millisecond, P99: 400 * time.Millisecond}) {
		t.Errorf("s3-published PUT = %+v, want p50 100ms p99 400ms", pub.Put)
	}
	if pub.Get.P99 != 200*time.Millisecond {
		t.Errorf("s3-published GET p99 = %s, want 200ms", pub.Get.P99)
	}
	if err := pub.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		op       string
		pub, std LatencyDist
	}{{"put", pub.Put, std.Put}, {"get", pub.Get, std.Get}, {"list", pub.List, std.List}, {"delete", pub.Delete, std.Delete}} {
		if d.pub.P99 <= d.std.P99 {
			t.Errorf("%s: s3-published p99 %s not above s3-standard's %s", d.op, d.pub.P99, d.std.P99)
		}
	}
}
