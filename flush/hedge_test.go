package flush

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// putPlan is what a slowStore does with one Put call.
type putPlan struct {
	hang  bool          // wait until the caller gives up (a PUT that never answers)
	delay time.Duration // wait this long (or until the caller gives up), then go on
	err   error         // fail with err after the wait instead of storing
}

// putCall is one Put a slowStore saw.
type putCall struct {
	key      string
	data     []byte
	canceled bool // the caller gave up before the call finished
	err      error
}

// slowStore is a memStore whose Puts follow plan (by call number, from 0, over all keys),
// recording every call: a store with slow and stuck PUTs, for hedging.
type slowStore struct {
	*memStore
	plan func(call int) putPlan

	mu    sync.Mutex
	calls []putCall
}

func newSlowStore(plan func(call int) putPlan) *slowStore {
	return &slowStore{memStore: newMemStore(false), plan: plan}
}

func (s *slowStore) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, putCall{key: key, data: bytes.Join(parts, nil)})
	s.mu.Unlock()
	p := s.plan(n)
	err := p.err
	switch {
	case p.hang:
		<-ctx.Done()
		err = ctx.Err()
	case p.delay > 0:
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		err = s.memStore.Put(ctx, key, parts, size)
	}
	s.mu.Lock()
	s.calls[n].canceled = ctx.Err() != nil
	s.calls[n].err = err
	s.mu.Unlock()
	return err
}

func (s *slowStore) snapshot() []putCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]putCall(nil), s.calls...)
}

// hedgeConfig hedges after the 90th percentile of the PUT latencies primed with primeHedger,
// and at least after 20 ms.
func hedgeConfig() Config {
	cfg := testConfig()
	cfg.HedgeQuantile = 0.9
	cfg.HedgeMinDelay = 20 * time.Millisecond
	return cfg
}

// primeHedger records enough fast PUT latencies that the next upload may be hedged at once.
func primeHedger(f *Flusher) {
	for range hedgeMinSamples {
		f.hedger.observe(time.Millisecond)
	}
}

// counterDelta returns a function reporting how much a counter grew since this call.
func counterDelta(get func() uint64) func() uint64 {
	before := get()
	return func() uint64 { return get() - before }
}

// TestHedgeCompletesAStuckUpload: a flush object whose PUT never answers is uploaded by its
// hedge, the same key with the same bytes, committed once that hedge succeeded, and the stuck
// PUT is cancelled. Guards the point of hedging: one stuck request must not hold up the
// produce acknowledgements behind it until the attempt timeout.
func TestHedgeCompletesAStuckUpload(t *testing.T) {
	st := newSlowStore(func(call int) putPlan {
		if call == 0 {
			return putPlan{hang: true}
		}
		return putPlan{}
	})
	var storedAtCommit []bool
	c := &fakeCommitter{decide: func(_ uint64, _ int, obj Object) ([]PartitionID, error) {
		_, err := st.GetRange(context.Background(), obj.Key, 0, obj.Size)
		storedAtCommit = append(storedAtCommit, err == nil)
		return nil, nil
	}}
	cfg := hedgeConfig()
	cfg.AttemptTimeout = time.Hour // only the hedge can finish this upload in time
	f := newTestFlusher(t, cfg, st, c)
	primeHedger(f)
	hedges := counterDelta(uploadHedges.Get)
	wins := counterDelta(uploadHedgeWins.Get)

	events := &eventLog{}
	a := &fakeSink{name: "a", log: events}
	want := testBatch(1, 0, 9, 5000)
	appendReserved(t, f, a, partitionID(1, 0, 1), want)
	if err := waitDone(t, cutNow(t, f)); err != nil {
		t.Fatalf("flush with a stuck PUT and a hedge: %v", err)
	}
	waitFor(t, "the stuck PUT to be cancelled", func() bool {
		calls := st.snapshot()
		return len(calls) == 2 && calls[0].canceled
	})
	calls := st.snapshot()
	if calls[0].key != calls[1].key || !bytes.Equal(calls[0].data, calls[1].data) {
		t.Fatalf("hedge PUT %s (%d bytes) differs from the first PUT %s (%d bytes)", calls[1].key, len(calls[1].data), calls[0].key, len(calls[0].data))
	}
	if calls[1].err != nil {
		t.Fatalf("hedge PUT failed: %v", calls[1].err)
	}
	if len(storedAtCommit) != 1 || !storedAtCommit[0] {
		t.Fatalf("commits %v; want one, made with the object stored", storedAtCommit)
	}
	if got := events.of("a"); len(got) != 1 || !got[0].committed || got[0].key != calls[0].key {
		t.Fatalf("sink events %+v; want one commit of %s", got, calls[0].key)
	}
	if h, w := hedges(), wins(); h != 1 || w != 1 {
		t.Fatalf("hedges %d, hedge wins %d; want 1 and 1", h, w)
	}
}

// TestHedgeLosesToTheFirstPut: a PUT slower than the hedge delay gets a hedge, but when the
// first PUT answers first the hedge is cancelled and the object stored once; the hedge that
// the store saw carried the same bytes.
func TestHedgeLosesToTheFirstPut(t *testing.T) {
	st := newSlowStore(func(call int) putPlan {
		switch call {
		case 0:
			return putPlan{delay: 200 * time.Millisecond}
		case 1:
			return putPlan{hang: true}
		}
		return putPlan{}
	})
	c := &fakeCommitter{}
	f := newTestFlusher(t, hedgeConfig(), st, c)
	primeHedger(f)
	hedges := counterDelta(uploadHedges.Get)
	wins := counterDelta(uploadHedgeWins.Get)

	a := &fakeSink{name: "a", log: &eventLog{}}
	appendReserved(t, f, a, partitionID(1, 0, 1), testBatch(1, 0, 0, 100))
	if err := waitDone(t, cutNow(t, f)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hedge to be cancelled", func() bool {
		calls := st.snapshot()
		return len(calls) == 2 && calls[1].canceled
	})
	calls := st.snapshot()
	if calls[0].err != nil || !bytes.Equal(calls[0].data, calls[1].data) || calls[0].key != calls[1].key {
		t.Fatalf("first PUT %v; hedge of %s, same bytes %v", calls[0].err, calls[1].key, bytes.Equal(calls[0].data, calls[1].data))
	}
	if h, w := hedges(), wins(); h != 1 || w != 0 {
		t.Fatalf("hedges %d, hedge wins %d; want 1 and 0", h, w)
	}
	if n := len(c.committed()); n != 1 {
		t.Fatalf("%d commits, want 1", n)
	}
}

// TestHedgeFailuresAreRetried: when the first PUT and its hedge both fail, nothing is
// committed for that attempt; the upload is retried (a new attempt, hedged again if slow)
// and committed once a PUT succeeded.
func TestHedgeFailuresAreRetried(t *testing.T) {
	st := newSlowStore(func(call int) putPlan {
		switch call {
		case 0:
			return putPlan{delay: 100 * time.Millisecond, err: errInjected} // fails after its hedge started
		case 1:
			return putPlan{err: errInjected}
		}
		return putPlan{}
	})
	var storedAtCommit []bool
	c := &fakeCommitter{decide: func(_ uint64, _ int, obj Object) ([]PartitionID, error) {
		_, err := st.GetRange(context.Background(), obj.Key, 0, obj.Size)
		storedAtCommit = append(storedAtCommit, err == nil)
		return nil, nil
	}}
	f := newTestFlusher(t, hedgeConfig(), st, c)
	primeHedger(f)
	a := &fakeSink{name: "a", log: &eventLog{}}
	appendReserved(t, f, a, partitionID(1, 0, 1), testBatch(1, 0, 0, 100))
	if err := waitDone(t, cutNow(t, f)); err != nil {
		t.Fatal(err)
	}
	calls := st.snapshot()
	if len(calls) < 3 || !errors.Is(calls[0].err, errInjected) || !errors.Is(calls[1].err, errInjected) || calls[2].err != nil {
		t.Fatalf("PUTs %+v; want two failures (first PUT, hedge) then a success", calls)
	}
	if len(storedAtCommit) != 1 || !storedAtCommit[0] {
		t.Fatalf("commits %v; want one, made with the object stored", storedAtCommit)
	}
}

// TestHedgeOff: with HedgeQuantile 0, a slow PUT is waited for and never hedged.
func TestHedgeOff(t *testing.T) {
	st := newSlowStore(func(int) putPlan { return putPlan{delay: 100 * time.Millisecond} })
	cfg := hedgeConfig()
	cfg.HedgeQuantile = 0
	f := newTestFlusher(t, cfg, st, &fakeCommitter{})
	if f.hedger != nil {
		t.Fatal("hedger set up with HedgeQuantile 0")
	}
	hedges := counterDelta(uploadHedges.Get)
	a := &fakeSink{name: "a", log: &eventLog{}}
	for i := range 3 {
		appendReserved(t, f, a, partitionID(1, 0, 1), testBatch(1, int64(i), int64(i), 100))
		if err := waitDone(t, cutNow(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	if n, h := len(st.snapshot()), hedges(); n != 3 || h != 0 {
		t.Fatalf("%d PUTs and %d hedges for 3 objects; want 3 and 0", n, h)
	}
}

// TestHedgerDelay: the delay is the configured quantile of the recent latencies, never
// below the minimum, and there is none before hedgeMinSamples latencies are known.
func TestHedgerDelay(t *testing.T) {
	h := newHedger(0.9, 5*time.Millisecond)
	for i := 1; i < hedgeMinSamples; i++ {
		h.observe(time.Duration(i) * time.Millisecond)
	}
	if d, ok := h.delay(); ok {
		t.Fatalf("delay %s with %d samples; want none before %d", d, hedgeMinSamples-1, hedgeMinSamples)
	}
	h = newHedger(0.9, 5*time.Millisecond)
	for i := 100; i >= 1; i-- { // 1..100 ms in reverse: the order must not matter
		h.observe(time.Duration(i) * time.Millisecond)
	}
	if d, ok := h.delay(); !ok || d != 91*time.Millisecond {
		t.Fatalf("delay %s, %v; want the 90th percentile of 1..100 ms, 91ms", d, ok)
	}
	// The window keeps the newest hedgeWindow latencies: a store that got slower moves
	// the delay up once its new latencies fill the window.
	for range hedgeWindow {
		h.observe(300 * time.Millisecond)
	}
	if d, _ := h.delay(); d != 300*time.Millisecond {
		t.Fatalf("delay %s after a full window of 300ms; want 300ms", d)
	}
	fast := newHedger(0.9, 50*time.Millisecond)
	for range hedgeMinSamples {
		fast.observe(time.Millisecond)
	}
	if d, _ := fast.delay(); d != 50*time.Millisecond {
		t.Fatalf("delay %s for 1 ms PUTs; want the 50ms minimum", d)
	}
	var off *hedger
	off.observe(time.Second)
	if _, ok := off.delay(); ok {
		t.Fatal("a nil hedger hedges")
	}
}

// TestHedgeRateFollowsTheQuantile: over many uploads from a store with a slow tail, the
// share of hedged PUTs stays near 1 - quantile. Guards the estimator against the feedback
// where slow PUTs cut short by their hedges drop out of the window, pull the delay down
// and make ever more PUTs hedged.
func TestHedgeRateFollowsTheQuantile(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 300 objects")
	}
	// Every 5th first PUT takes 60 ms, the others 2 ms; hedges take 2 ms. With q = 0.7 the
	// 70th percentile is 2 ms, so the 20% slow ones (and no others) are hedged, raised to the
	// 20 ms minimum delay.
	var mu sync.Mutex
	firsts := map[string]bool{}
	st := newSlowStore(nil)
	st.plan = func(call int) putPlan {
		calls := st.snapshot()
		key := calls[call].key
		mu.Lock()
		defer mu.Unlock()
		if firsts[key] {
			return putPlan{delay: 2 * time.Millisecond}
		}
		firsts[key] = true
		if len(firsts)%5 == 0 {
			return putPlan{delay: 60 * time.Millisecond}
		}
		return putPlan{delay: 2 * time.Millisecond}
	}
	cfg := hedgeConfig()
	cfg.HedgeQuantile = 0.7
	f := newTestFlusher(t, cfg, st, &fakeCommitter{})
	hedges := counterDelta(uploadHedges.Get)
	a := &fakeSink{name: "a", log: &eventLog{}}
	const objects = 300
	for i := range objects {
		appendReserved(t, f, a, partitionID(1, 0, 1), testBatch(1, int64(i), int64(i), 100))
		if err := waitDone(t, cutNow(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Hedging starts after hedgeMinSamples uploads; the slow fifth of the rest is hedged,
	// and a loaded machine may push a few fast PUTs past 20 ms too.
	slow := (objects - hedgeMinSamples) / 5
	if h := int(hedges()); h < slow*3/4 || h > slow*3/2 {
		t.Fatalf("%d hedges over %d objects; want about %d (the slow fifth)", h, objects, slow)
	}
	if d, ok := f.hedger.delay(); !ok || d != cfg.HedgeMinDelay {
		t.Fatalf("hedge delay %s, %v; want the %s minimum (the 70th percentile is 2 ms)", d, ok, cfg.HedgeMinDelay)
	}
}
