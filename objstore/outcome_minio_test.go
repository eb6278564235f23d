//go:build !kafscale_nos3

package objstore

import (
	"context"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/s3fault"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestOutcomesAgainstMinIO drives a counted S3 store on MinIO, behind a fault proxy, into
// each outcome a real S3 answer can have and checks that kafscale_object_request_outcomes_total
// names it: an error rate by kind is what the alert and the dashboard read, so a throttled
// PUT must not count as a client error nor a missing key as a failure.
func TestOutcomesAgainstMinIO(t *testing.T) {
	m := testinfra.StartMinIO(t)
	proxy, err := s3fault.Start(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	// No retries, so that each fault reaches the caller as the request's outcome.
	s3st := newMinIOStore(t, m, proxy.URL(), S3Config{MaxRetries: 0, RequestTimeout: 300 * time.Millisecond})
	st := Counted(s3st)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	put := func(key string) error { return st.Put(ctx, key, [][]byte{[]byte("value")}, 5) }
	get := func(key string, off, n int64) error { _, err := st.GetRange(ctx, key, off, n); return err }
	canceled, cancelNow := context.WithCancel(ctx)
	cancelNow()

	for _, tc := range []struct {
		name    string
		rule    s3fault.Rule
		op      string
		do      func() error
		outcome string
	}{
		{"put", s3fault.Rule{}, opPut, func() error { return put("a") }, OutcomeOK},
		{"put of an existing key", s3fault.Rule{}, opPut, func() error { return put("a") }, OutcomeExists},
		{"get", s3fault.Rule{}, opGet, func() error { return get("a", 0, 5) }, OutcomeOK},
		{"get of a missing key", s3fault.Rule{}, opGet, func() error { return get("missing", 0, 1) }, OutcomeNotFound},
		{"get past the end", s3fault.Rule{}, opGet, func() error { return get("a", 10, 1) }, OutcomeOutOfRange},
		{"list", s3fault.Rule{}, opList, func() error { _, err := st.List(ctx, ""); return err }, OutcomeOK},
		{"delete", s3fault.Rule{}, opDelete, func() error { return st.Delete(ctx, "a") }, OutcomeOK},
		{"503 SlowDown", s3fault.Rule{Fault: s3fault.SlowDown, Fraction: 1}, opPut, func() error { return put("b") }, OutcomeThrottled},
		{"500 InternalError", s3fault.Rule{Fault: s3fault.InternalError, Fraction: 1}, opGet, func() error { return get("a", 0, 1) }, OutcomeServerError},
		{"hung request", s3fault.Rule{Fault: s3fault.Hang, Fraction: 1}, opGet, func() error { return get("a", 0, 1) }, OutcomeTimeout},
		{"dropped connection", s3fault.Rule{Fault: s3fault.Drop, Fraction: 1}, opList, func() error { _, err := st.List(ctx, ""); return err }, OutcomeNetwork},
		{"canceled by the caller", s3fault.Rule{}, opDelete, func() error { return st.Delete(canceled, "a") }, OutcomeCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Set(tc.rule)
			defer proxy.Clear()
			before := snapshotOutcomes()
			err := tc.do()
			if (err == nil) != (tc.outcome == OutcomeOK) {
				t.Fatalf("error = %v; want outcome %s", err, tc.outcome)
			}
			if got := Outcome(err); got != tc.outcome {
				t.Errorf("Outcome(%v) = %s; want %s", err, got, tc.outcome)
			}
			diff := diffOutcomes(before, snapshotOutcomes())
			if len(diff) != 1 || diff[tc.op+"/"+tc.outcome] != 1 {
				t.Errorf("counted %v; want one %s/%s", diff, tc.op, tc.outcome)
			}
		})
	}

	t.Run("missing bucket", func(t *testing.T) {
		s3st.cfg.Bucket = "no-such-bucket"
		before := snapshotOutcomes()
		if err := get("a", 0, 1); Outcome(err) != OutcomeClientError {
			t.Errorf("GetRange on a missing bucket: outcome %s of %v; want %s", Outcome(err), err, OutcomeClientError)
		}
		if diff := diffOutcomes(before, snapshotOutcomes()); diff["get/"+OutcomeClientError] != 1 {
			t.Errorf("counted %v; want one get/%s", diff, OutcomeClientError)
		}
	})
}

// snapshotOutcomes reads every op/outcome counter.
func snapshotOutcomes() map[string]uint64 {
	m := map[string]uint64{}
	for op, byOutcome := range outcomeCounters {
		for o, c := range byOutcome {
			m[op+"/"+o] = c.Get()
		}
	}
	return m
}

// diffOutcomes returns the counters that moved between two snapshots, and by how much.
func diffOutcomes(before, after map[string]uint64) map[string]uint64 {
	d := map[string]uint64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}
