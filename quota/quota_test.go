package quota

import (
	"math"
	"testing"
	"time"
)

func TestResolvePrecedence(t *testing.T) {
	all := []Entity{
		{User: Named("alice"), ClientID: Named("app")},
		{User: Named("alice"), ClientID: Default},
		{User: Named("alice")},
		{User: Default, ClientID: Named("app")},
		{User: Default, ClientID: Default},
		{User: Default},
		{ClientID: Named("app")},
		{ClientID: Default},
	}
	// Removing the most specific entity each time, the next one in Kafka's order wins.
	for i := range all {
		s := Set{}
		for j, e := range all[i:] {
			s[e] = map[string]float64{ProducerByteRate: float64(100 + i + 10*j)}
		}
		v, k, ok := s.Resolve(ProducerByteRate, "alice", "app")
		if !ok || v != float64(100+i) {
			t.Fatalf("with %s the most specific: got %v, %v; want %d", all[i], v, ok, 100+i)
		}
		wantUser := all[i].User.Present
		wantClient := all[i].ClientID.Present
		if k.HasUser != wantUser || k.HasClientID != wantClient || (wantUser && k.User != "alice") || (wantClient && k.ClientID != "app") {
			t.Fatalf("with %s the most specific: key %+v", all[i], k)
		}
	}
}

func TestResolvePerKeyAndNoMatch(t *testing.T) {
	s := Set{
		{User: Named("alice")}:   {ConsumerByteRate: 5},
		{ClientID: Named("app")}: {ProducerByteRate: 7},
	}
	if v, _, ok := s.Resolve(ProducerByteRate, "alice", "app"); !ok || v != 7 {
		t.Fatalf("producer quota: %v %v, want the client id's 7", v, ok)
	}
	if v, _, ok := s.Resolve(ConsumerByteRate, "alice", "app"); !ok || v != 5 {
		t.Fatalf("consumer quota: %v %v, want the user's 5", v, ok)
	}
	if _, _, ok := s.Resolve(ProducerByteRate, "bob", "other"); ok {
		t.Fatal("a user and client id without quota got one")
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		key string
		v   float64
		ok  bool
	}{
		{ProducerByteRate, 1024, true},
		{ConsumerByteRate, 1, true},
		{ProducerByteRate, 0, false},
		{ProducerByteRate, -5, false},
		{ProducerByteRate, 1.5, false},
		{RequestPercentage, 50, true},
		{RequestPercentage, 0.5, true},
		{RequestPercentage, 250, true},
		{RequestPercentage, 0, false},
		{RequestPercentage, math.NaN(), false},
		{RequestPercentage, math.Inf(1), false},
		{"controller_mutation_rate", 5, false},
		{"connection_creation_rate", 5, false},
		{"bogus", 1, false},
	} {
		if err := Check(c.key, c.v); (err == nil) != c.ok {
			t.Errorf("Check(%s, %v) = %v", c.key, c.v, err)
		}
	}
}

func TestTrackerThrottlesOverQuota(t *testing.T) {
	tr, err := NewTracker(11, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{HasClientID: true, ClientID: "app"}
	now := time.Unix(1000, 0)
	// 1,000 B/s over a measured window of at least 10 s: 10,000 bytes pass at once.
	if d := tr.Record(k, 10_000, 1000, now); d != 0 {
		t.Fatalf("within quota: throttled %s", d)
	}
	// 5,000 more: the rate is 15,000 B over 10 s, 50% over: 5 s of silence brings it back.
	if d := tr.Record(k, 5_000, 1000, now); d != 5*time.Second {
		t.Fatalf("over quota: throttled %s, want 5s", d)
	}
	// A huge request is throttled at most for the whole measured span.
	if d := tr.Record(k, 1<<40, 1000, now); d != 11*time.Second {
		t.Fatalf("huge request: throttled %s, want the 11s cap", d)
	}
	// Another key is measured apart.
	if d := tr.Record(Key{HasClientID: true, ClientID: "other"}, 5_000, 1000, now); d != 0 {
		t.Fatalf("another client id: throttled %s", d)
	}
}

func TestTrackerSteadyRateHeldAtQuota(t *testing.T) {
	tr, _ := NewTracker(11, time.Second)
	k := Key{HasUser: true, User: "u"}
	// A client that sends 500 bytes and waits what it is told converges to the quota.
	now := time.Unix(1000, 0)
	start := now
	var sent float64
	for now.Sub(start) < 60*time.Second {
		d := tr.Record(k, 500, 1000, now)
		sent += 500
		now = now.Add(max(d, time.Millisecond))
	}
	if rate := sent / now.Sub(start).Seconds(); rate < 1000 || rate > 1250 {
		t.Fatalf("rate %.0f B/s, want the 1000 B/s quota plus the initial burst", rate)
	}
}

func TestTrackerForgetsIdleKeys(t *testing.T) {
	tr, _ := NewTracker(11, time.Second)
	now := time.Unix(1000, 0)
	for i := range 100 {
		tr.Record(Key{HasClientID: true, ClientID: string(rune('a' + i))}, 1, 1000, now)
	}
	if tr.Len() != 100 {
		t.Fatalf("%d keys, want 100", tr.Len())
	}
	tr.Record(Key{HasClientID: true, ClientID: "late"}, 1, 1000, now.Add(12*time.Second))
	if tr.Len() != 1 {
		t.Fatalf("%d keys after the idle ones expired, want 1", tr.Len())
	}
}

func TestNewTrackerRefusesBadWindows(t *testing.T) {
	if _, err := NewTracker(1, time.Second); err == nil {
		t.Fatal("one sample accepted")
	}
	if _, err := NewTracker(11, 0); err == nil {
		t.Fatal("zero window accepted")
	}
}

// TestTrackerMaxThrottle: with SetMaxThrottle (the request quota's one window), a request
// far over the quota is throttled for that long at most, not for the whole span.
func TestTrackerMaxThrottle(t *testing.T) {
	tr, _ := NewTracker(11, time.Second)
	tr.SetMaxThrottle(time.Second)
	k := Key{HasClientID: true, ClientID: "app"}
	now := time.Unix(1000, 0)
	// A limit of 1% of a handler is 10 ms of handler time per second; 1 s of it over a
	// measured window of 10 s is ten times the quota: 90 s unbounded, 1 s bounded.
	limit := 1 * float64(time.Second/time.Nanosecond) / 100
	if d := tr.Record(k, int64(time.Second), limit, now); d != time.Second {
		t.Fatalf("throttled %s, want the 1s bound", d)
	}
	// Within the quota: 50 ms over 10 s is half of it.
	if d := tr.Record(Key{HasClientID: true, ClientID: "light"}, int64(50*time.Millisecond), limit, now); d != 0 {
		t.Fatalf("within quota: throttled %s", d)
	}
}
