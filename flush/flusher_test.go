package flush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafscale/kafscale/segment"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // empty: valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero flush bytes", func(c *Config) { c.FlushBytes = 0 }, "--flush-bytes"},
		{"zero flush interval", func(c *Config) { c.FlushInterval = 0 }, "--flush-interval"},
		{"buffer below flush bytes", func(c *Config) { c.BufferBytes = c.FlushBytes - 1 }, "--buffer-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestOneObjectIndexesEachPartitionOnce appends interleaved batches of two partitions to one
// flush and checks the object's footer, the Object given to the Committer and the Sink calls.
func TestOneObjectIndexesEachPartitionOnce(t *testing.T) {
	st := newLocalStore(t)
	c := &fakeCommitter{}
	f := newTestFlusher(t, testConfig(), st, c)
	events := &eventLog{}
	a, b := &fakeSink{name: "a", log: events}, &fakeSink{name: "b", log: events}
	idA, idB := partitionID(1, 0, 3), partitionID(2, 5, 7)

	type appended struct {
		s     *fakeSink
		id    PartitionID
		batch Batch
	}
	in := []appended{
		{a, idA, testBatch('a', 0, 1, 100)},
		{b, idB, testBatch('b', 10, 10, 50)},
		{a, idA, testBatch('a', 2, 4, 70)},
		{b, idB, testBatch('b', 11, 13, 30)},
		{a, idA, testBatch('a', 5, 5, 20)},
	}
	var fls []*Flush
	for _, x := range in {
		fls = append(fls, appendReserved(t, f, x.s, x.id, x.batch))
	}
	fl := f.Flush()
	for _, other := range fls {
		if other != fl {
			t.Fatal("batches appended before one Flush landed in different flushes")
		}
	}
	if err := waitDone(t, fl); err != nil {
		t.Fatalf("flush failed: %v", err)
	}

	commits := c.committed()
	if len(commits) != 1 || commits[0].seq != 0 {
		t.Fatalf("commits = %+v, want one with seq 0", commits)
	}
	obj := commits[0].obj
	if !slices.Equal(obj.Partitions, []PartitionID{idA, idB}) {
		t.Errorf("Object.Partitions = %v, want [%v %v]", obj.Partitions, idA, idB)
	}
	ctx := context.Background()
	footer, err := segment.ReadFooter(ctx, st, obj.Key)
	if err != nil {
		t.Fatal(err)
	}
	if footer.FooterPos != obj.FooterPos || footer.FooterLen != obj.FooterLen || footer.ObjectSize() != obj.Size {
		t.Errorf("Object says footer at %d+%d of %d bytes; footer read back says %d+%d of %d",
			obj.FooterPos, obj.FooterLen, obj.Size, footer.FooterPos, footer.FooterLen, footer.ObjectSize())
	}
	want := []struct {
		id          PartitionID
		base, last  int64
		batches     int32
		maxTs       int64
		data        []byte
		sink        string
		sinkBatches []Batch
	}{
		{idA, 0, 5, 3, 1005, concat(in[0].batch, in[2].batch, in[4].batch), "a", []Batch{in[0].batch, in[2].batch, in[4].batch}},
		{idB, 10, 13, 2, 1011, concat(in[1].batch, in[3].batch), "b", []Batch{in[1].batch, in[3].batch}},
	}
	if len(footer.Extents) != len(want) {
		t.Fatalf("footer has %d extents, want %d: %+v", len(footer.Extents), len(want), footer.Extents)
	}
	for i, w := range want {
		e := footer.Extents[i]
		if e.TopicID != w.id.TopicID || e.Partition != w.id.Partition || e.LeaderEpoch != w.id.LeaderEpoch ||
			e.BaseOffset != w.base || e.LastOffset != w.last || e.Batches != w.batches || e.MaxTimestamp != w.maxTs {
			t.Errorf("extent %d = %+v, want partition %v offsets [%d, %d], %d batches, max timestamp %d",
				i, e, w.id, w.base, w.last, w.batches, w.maxTs)
		}
		data, err := segment.ReadExtent(ctx, st, obj.Key, e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, w.data) {
			t.Errorf("extent %d holds other bytes than the partition's batches in append order", i)
		}
		ev := events.of(w.sink)
		if len(ev) != 1 || !ev[0].committed {
			t.Fatalf("sink %s got %+v, want one Committed", w.sink, ev)
		}
		if ev[0].key != obj.Key || !extentEqual(ev[0].ext, e) || !batchesEqual(ev[0].batches, w.sinkBatches) {
			t.Errorf("sink %s Committed(%s, %+v, %d batches), want (%s, %+v, %d batches)",
				w.sink, ev[0].key, ev[0].ext, len(ev[0].batches), obj.Key, e, len(w.sinkBatches))
		}
	}
	if got := events.snapshot(); len(got) != 2 || got[0].sink != "a" || got[1].sink != "b" {
		t.Errorf("sinks called in order %v, want a then b", sinkNames(got))
	}
	if n := f.PendingBytes(); n != 0 {
		t.Errorf("PendingBytes() = %d after the commit, want 0", n)
	}
}

// TestSinksAreCalledInCommitOrder queues three flushes behind a held commit and checks that
// every Sink call of an earlier flush comes before any of a later one.
func TestSinksAreCalledInCommitOrder(t *testing.T) {
	gate := make(chan struct{})
	c := &fakeCommitter{gate: gate}
	f := newTestFlusher(t, testConfig(), newMemStore(false), c)
	events := &eventLog{}
	a, b := &fakeSink{name: "a", log: events}, &fakeSink{name: "b", log: events}
	idA, idB := partitionID(1, 0, 1), partitionID(1, 1, 1)

	var fls []*Flush
	offA, offB := int64(0), int64(0)
	for i := range 3 {
		// Alternate which partition comes first in the flush.
		order := []*fakeSink{a, b}
		if i%2 == 1 {
			order = []*fakeSink{b, a}
		}
		for _, s := range order {
			if s == a {
				appendReserved(t, f, a, idA, testBatch('a', offA, offA, 10))
				offA++
			} else {
				appendReserved(t, f, b, idB, testBatch('b', offB, offB, 10))
				offB++
			}
		}
		fls = append(fls, cutNow(t, f))
	}
	close(gate)
	for _, fl := range fls {
		if err := waitDone(t, fl); err != nil {
			t.Fatal(err)
		}
	}

	seqOf := make(map[string]uint64)
	for _, cl := range c.committed() {
		seqOf[cl.obj.Key] = cl.seq
	}
	if got := c.attempts(); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("commit seqs %v, want [0 1 2]", got)
	}
	got := events.snapshot()
	if len(got) != 6 {
		t.Fatalf("%d sink calls, want 6: %v", len(got), sinkNames(got))
	}
	for i := 1; i < len(got); i++ {
		if seqOf[got[i].key] < seqOf[got[i-1].key] {
			t.Fatalf("sink call %d (seq %d) after a call for seq %d", i, seqOf[got[i].key], seqOf[got[i-1].key])
		}
	}
	for _, name := range []string{"a", "b"} {
		var offs []int64
		for _, e := range events.of(name) {
			if !e.committed {
				t.Fatalf("sink %s Failed: %v", name, e.err)
			}
			for _, bt := range e.batches {
				offs = append(offs, bt.BaseOffset)
			}
		}
		if !slices.Equal(offs, []int64{0, 1, 2}) {
			t.Errorf("sink %s committed offsets %v, want [0 1 2]", name, offs)
		}
	}
}

func TestFlushBytesCutsBeforeInterval(t *testing.T) {
	cfg := testConfig()
	cfg.FlushBytes = 4096
	cfg.FlushInterval = time.Hour
	c := &fakeCommitter{}
	f := newTestFlusher(t, cfg, newMemStore(false), c)
	s := &fakeSink{name: "a", log: &eventLog{}}
	id := partitionID(1, 0, 0)

	var fl *Flush
	for i := range int64(4) {
		if i > 0 && f.NextSeq() != 0 {
			t.Fatalf("flush cut after %d bytes, below FlushBytes %d", i*1024, cfg.FlushBytes)
		}
		fl = appendReserved(t, f, s, id, testBatch('a', i, i, 1024))
	}
	if err := waitDone(t, fl); err != nil { // waitBound is far below FlushInterval
		t.Fatal(err)
	}
	if got := c.committed(); len(got) != 1 || got[0].obj.Size <= 4096 {
		t.Fatalf("commits %+v, want one object holding the 4096 batch bytes", got)
	}
}

// TestFlushIntervalSpacesCuts: below flush.bytes, cuts are at least flush.interval apart
// (the bound on PUTs per second), and a batch arriving more than an interval after the last
// cut is cut at once instead of waiting an interval of its own.
func TestFlushIntervalSpacesCuts(t *testing.T) {
	cfg := testConfig()
	cfg.FlushInterval = 300 * time.Millisecond
	st := newMemStore(false)
	c := &fakeCommitter{}
	f := newTestFlusher(t, cfg, st, c)
	s := &fakeSink{name: "a", log: &eventLog{}}

	// Idle for more than an interval since the flusher started: cut at once.
	time.Sleep(cfg.FlushInterval + 50*time.Millisecond)
	start := time.Now()
	fl := appendReserved(t, f, s, partitionID(1, 0, 0), testBatch('a', 0, 0, 10))
	if err := waitDone(t, fl); err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	if first >= cfg.FlushInterval {
		t.Errorf("a batch after a quiet spell was committed after %s, want well before the interval %s", first, cfg.FlushInterval)
	}
	// Right after a cut: the next one waits for the interval.
	fl = appendReserved(t, f, s, partitionID(1, 0, 0), testBatch('a', 1, 1, 10))
	if err := waitDone(t, fl); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < cfg.FlushInterval {
		t.Errorf("two cuts %s apart, want at least the interval %s", d, cfg.FlushInterval)
	}
	got := c.committed()
	if len(got) != 2 {
		t.Fatalf("%d commits, want 2", len(got))
	}
	footer, err := segment.ReadFooter(context.Background(), st, got[0].obj.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(footer.Extents) != 1 || footer.Extents[0].Len != 10 {
		t.Errorf("extents %+v, want one of 10 bytes", footer.Extents)
	}
}

func cancelledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestReserveWaitsUntilCommitReleasesBytes(t *testing.T) {
	cfg := testConfig()
	cfg.FlushBytes, cfg.BufferBytes = 100, 100
	gate := make(chan struct{})
	f := newTestFlusher(t, cfg, newMemStore(false), &fakeCommitter{gate: gate})
	s := &fakeSink{name: "a", log: &eventLog{}}

	fl := appendReserved(t, f, s, partitionID(1, 0, 0), testBatch('a', 0, 0, 60))
	f.Flush()
	// A cancelled context fails only a Reserve that would have to wait.
	if err := f.Reserve(cancelledCtx(), 60); err == nil {
		t.Fatal("Reserve(60) with 60 of 100 bytes pending did not wait")
	}
	if err := f.Reserve(cancelledCtx(), 40); err != nil {
		t.Fatalf("Reserve(40) with 60 of 100 bytes pending: %v", err)
	}
	f.Unreserve(40)

	done := make(chan error, 1)
	go func() { done <- f.Reserve(context.Background(), 60) }()
	select {
	case err := <-done:
		t.Fatalf("Reserve returned %v before the commit released bytes", err)
	default:
	}
	close(gate)
	if err := waitDone(t, fl); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Reserve after the commit: %v", err)
		}
	case <-time.After(waitBound):
		t.Fatal("Reserve still waiting after the commit released bytes")
	}
	if n := f.PendingBytes(); n != 60 {
		t.Errorf("PendingBytes() = %d, want the 60 just reserved", n)
	}
}

func TestReserveFailsWhenContextEnds(t *testing.T) {
	deadline, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelledCtx(), context.Canceled},
		{"deadline", deadline, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.FlushBytes, cfg.BufferBytes = 100, 100
			f := newTestFlusher(t, cfg, newMemStore(false), &fakeCommitter{})
			if err := f.Reserve(context.Background(), 100); err != nil {
				t.Fatal(err)
			}
			err := f.Reserve(tt.ctx, 1)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Reserve on a full buffer = %v, want %v", err, tt.want)
			}
			f.Unreserve(100)
		})
	}
}

func TestReserveAdmitsOversizeRequestWhenNothingPending(t *testing.T) {
	cfg := testConfig()
	cfg.FlushBytes, cfg.BufferBytes = 100, 100
	f := newTestFlusher(t, cfg, newMemStore(false), &fakeCommitter{})
	if err := f.Reserve(cancelledCtx(), 1000); err != nil {
		t.Fatalf("Reserve(1000) on an empty buffer of 100: %v", err)
	}
	if err := f.Reserve(cancelledCtx(), 1); err == nil {
		t.Fatal("Reserve(1) beside an oversize reservation did not wait")
	}
	f.Unreserve(1000)
	if n := f.PendingBytes(); n != 0 {
		t.Errorf("PendingBytes() = %d after Unreserve, want 0", n)
	}
}

func TestUploadFailuresAreRetriedAndCommittedOnce(t *testing.T) {
	for _, failures := range []int64{1, 3} {
		t.Run(fmt.Sprintf("%d failures", failures), func(t *testing.T) {
			local := newLocalStore(t)
			st := &faultyStore{Store: local, failFirst: failures}
			c := &fakeCommitter{}
			f := newTestFlusher(t, testConfig(), st, c)
			events := &eventLog{}
			s := &fakeSink{name: "a", log: events}
			b := testBatch('a', 0, 2, 64)

			appendReserved(t, f, s, partitionID(1, 0, 0), b)
			if err := waitDone(t, f.Flush()); err != nil {
				t.Fatal(err)
			}
			if n := st.puts.Load(); n != failures+1 {
				t.Errorf("%d Puts, want %d", n, failures+1)
			}
			commits := c.committed()
			if len(commits) != 1 || commits[0].seq != 0 || len(c.attempts()) != 1 {
				t.Fatalf("commit attempts %v, successes %+v; want one commit of seq 0", c.attempts(), commits)
			}
			footer, err := segment.ReadFooter(context.Background(), local, commits[0].obj.Key)
			if err != nil {
				t.Fatalf("committed object unreadable: %v", err)
			}
			data, err := segment.ReadExtent(context.Background(), local, commits[0].obj.Key, footer.Extents[0])
			if err != nil || !bytes.Equal(data, b.Data) {
				t.Fatalf("committed object holds %x (%v), want the batch", data, err)
			}
			if ev := events.snapshot(); len(ev) != 1 || !ev[0].committed {
				t.Fatalf("sink calls %+v, want one Committed", ev)
			}
		})
	}
}

// TestCommitFailuresRetrySameSeq fails the first attempts of every commit, with and
// without upload failures, and checks that seqs stay 0,1,2,... with no gap.
func TestCommitFailuresRetrySameSeq(t *testing.T) {
	const flushes, commitFailures = 3, 2
	for _, uploadFailures := range []int64{0, 2} {
		t.Run(fmt.Sprintf("%d upload failures", uploadFailures), func(t *testing.T) {
			c := &fakeCommitter{decide: func(seq uint64, attempt int, _ Object) ([]PartitionID, error) {
				if attempt < commitFailures {
					return nil, fmt.Errorf("etcd unavailable: %w", errInjected)
				}
				return nil, nil
			}}
			st := &faultyStore{Store: newMemStore(false), failFirst: uploadFailures}
			f := newTestFlusher(t, testConfig(), st, c)
			events := &eventLog{}
			s := &fakeSink{name: "a", log: events}
			id := partitionID(1, 0, 0)
			var fls []*Flush
			for i := range int64(flushes) {
				appendReserved(t, f, s, id, testBatch('a', i, i, 16))
				fls = append(fls, cutNow(t, f))
			}
			for _, fl := range fls {
				if err := waitDone(t, fl); err != nil {
					t.Fatalf("flush %d: %v", fl.seq, err)
				}
			}
			var wantAttempts, wantSeqs []uint64
			for seq := range uint64(flushes) {
				wantSeqs = append(wantSeqs, seq)
				for range commitFailures + 1 {
					wantAttempts = append(wantAttempts, seq)
				}
			}
			if got := c.attempts(); !slices.Equal(got, wantAttempts) {
				t.Errorf("commit attempts by seq %v, want %v", got, wantAttempts)
			}
			var gotSeqs []uint64
			keys := make(map[string]bool)
			for _, cl := range c.committed() {
				gotSeqs = append(gotSeqs, cl.seq)
				keys[cl.obj.Key] = true
			}
			if !slices.Equal(gotSeqs, wantSeqs) || len(keys) != flushes {
				t.Errorf("committed seqs %v with %d distinct keys, want %v with %d", gotSeqs, len(keys), wantSeqs, flushes)
			}
			var offs []int64
			for _, e := range events.snapshot() {
				if !e.committed {
					t.Fatalf("sink Failed: %v", e.err)
				}
				for _, b := range e.batches {
					offs = append(offs, b.BaseOffset)
				}
			}
			if !slices.Equal(offs, []int64{0, 1, 2}) {
				t.Errorf("committed offsets %v, want each of 0,1,2 once", offs)
			}
		})
	}
}

func TestFencedCommitFailsWaitersAndLaterReserves(t *testing.T) {
	c := &fakeCommitter{decide: func(uint64, int, Object) ([]PartitionID, error) {
		return nil, fmt.Errorf("broker 1 incarnation 1: %w", ErrFenced)
	}}
	f := newTestFlusher(t, testConfig(), newMemStore(false), c)
	events := &eventLog{}
	a, b := &fakeSink{name: "a", log: events}, &fakeSink{name: "b", log: events}
	appendReserved(t, f, a, partitionID(1, 0, 0), testBatch('a', 0, 0, 10))
	fl := appendReserved(t, f, b, partitionID(1, 1, 0), testBatch('b', 0, 0, 10))
	f.Flush()

	if err := waitDone(t, fl); !errors.Is(err, ErrFenced) {
		t.Fatalf("Flush.Err() = %v, want ErrFenced", err)
	}
	if got := c.attempts(); len(got) != 1 {
		t.Errorf("fenced commit attempted %d times, want once (not retried)", len(got))
	}
	got := events.snapshot()
	if len(got) != 2 {
		t.Fatalf("sink calls %v, want a and b failed", sinkNames(got))
	}
	for _, e := range got {
		if e.committed || !errors.Is(e.err, ErrFenced) || len(e.batches) != 1 {
			t.Errorf("sink %s: committed=%v err=%v batches=%d, want Failed with ErrFenced and its batch", e.sink, e.committed, e.err, len(e.batches))
		}
	}
	if err := f.Reserve(context.Background(), 1); !errors.Is(err, ErrFenced) {
		t.Errorf("Reserve after fencing = %v, want ErrFenced", err)
	}
	if n := f.PendingBytes(); n != 0 {
		t.Errorf("PendingBytes() = %d after the failed flush, want 0", n)
	}
}

func TestVoidedPartitionFailsOnlyItsSink(t *testing.T) {
	idA, idB, idC := partitionID(1, 0, 4), partitionID(1, 1, 4), partitionID(2, 0, 9)
	c := &fakeCommitter{decide: func(uint64, int, Object) ([]PartitionID, error) {
		return []PartitionID{idB}, nil
	}}
	f := newTestFlusher(t, testConfig(), newMemStore(false), c)
	events := &eventLog{}
	sinks := map[PartitionID]*fakeSink{
		idA: {name: "a", log: events}, idB: {name: "b", log: events}, idC: {name: "c", log: events},
	}
	for _, id := range []PartitionID{idA, idB, idC} {
		appendReserved(t, f, sinks[id], id, testBatch(byte(id.Partition), 0, 0, 10))
	}
	waitDone(t, f.Flush())

	for _, tt := range []struct {
		sink      string
		committed bool
	}{{"a", true}, {"b", false}, {"c", true}} {
		ev := events.of(tt.sink)
		if len(ev) != 1 {
			t.Fatalf("sink %s got %d calls, want 1", tt.sink, len(ev))
		}
		if ev[0].committed != tt.committed {
			t.Errorf("sink %s committed=%v, want %v", tt.sink, ev[0].committed, tt.committed)
		}
		if !tt.committed && !errors.Is(ev[0].err, ErrVoided) {
			t.Errorf("sink %s Failed with %v, want ErrVoided", tt.sink, ev[0].err)
		}
	}
}

// TestLaterBatchesOfVoidedPartitionAreNotCommitted reproduces a partition whose leadership
// moved while it had batches in two flushes. The broker's committer voids it only in the
// commit whose fence compare failed; the next commit runs under the adopted fence and voids
// nothing. DESIGN.md: "those batches, and later pending batches of the same partitions, get
// NOT_LEADER_OR_FOLLOWER". Today the later batches are reported Committed, and
// partition.Log.Committed panics on them (its high watermark never moved past the voided
// batches), which kills the broker.
func TestLaterBatchesOfVoidedPartitionAreNotCommitted(t *testing.T) {
	idP, idQ := partitionID(1, 0, 2), partitionID(1, 1, 2)
	gate := make(chan struct{})
	c := &fakeCommitter{gate: gate, decide: func(seq uint64, _ int, _ Object) ([]PartitionID, error) {
		if seq == 0 {
			return []PartitionID{idP}, nil
		}
		return nil, nil
	}}
	f := newTestFlusher(t, testConfig(), newMemStore(false), c)
	events := &eventLog{}
	p, q := &fakeSink{name: "p", log: events}, &fakeSink{name: "q", log: events}

	appendReserved(t, f, p, idP, testBatch('p', 0, 0, 10))
	fl0 := cutNow(t, f)
	appendReserved(t, f, p, idP, testBatch('p', 1, 1, 10))
	appendReserved(t, f, q, idQ, testBatch('q', 0, 0, 10))
	fl1 := cutNow(t, f)
	close(gate)
	waitDone(t, fl0)
	waitDone(t, fl1)

	for _, e := range events.of("p") {
		if e.committed {
			t.Errorf("batches at offset %d of partition voided in seq 0 were reported Committed in %s", e.batches[0].BaseOffset, e.key)
		} else if !errors.Is(e.err, ErrVoided) {
			t.Errorf("partition p Failed with %v, want ErrVoided", e.err)
		}
	}
	if ev := events.of("q"); len(ev) != 1 || !ev[0].committed {
		t.Errorf("partition q got %+v, want Committed", ev)
	}
}

func TestCloseCommitsPendingData(t *testing.T) {
	c := &fakeCommitter{}
	f := newTestFlusher(t, testConfig(), newMemStore(false), c)
	events := &eventLog{}
	s := &fakeSink{name: "a", log: events}
	fl := appendReserved(t, f, s, partitionID(1, 0, 0), testBatch('a', 0, 0, 10))

	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-fl.Done():
	default:
		t.Fatal("Close returned before the pending flush was done")
	}
	if fl.Err() != nil {
		t.Fatalf("pending flush failed: %v", fl.Err())
	}
	if ev := events.snapshot(); len(ev) != 1 || !ev[0].committed || len(c.committed()) != 1 {
		t.Fatalf("sink calls %+v, commits %d; want the batch committed once", ev, len(c.committed()))
	}
	if err := f.Reserve(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Reserve after Close = %v, want ErrClosed", err)
	}
}

func TestCloseWithEndedContextFailsWaiters(t *testing.T) {
	st := &faultyStore{Store: newMemStore(false), failAll: true}
	c := &fakeCommitter{}
	f := newTestFlusher(t, testConfig(), st, c)
	events := &eventLog{}
	s := &fakeSink{name: "a", log: events}
	fl := appendReserved(t, f, s, partitionID(1, 0, 0), testBatch('a', 0, 0, 10))

	closed := make(chan error, 1)
	go func() { closed <- f.Close(cancelledCtx()) }()
	select {
	case err := <-closed:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Close = %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(waitBound):
		t.Fatal("Close hung with a cancelled context and a failing store")
	}
	if err := waitDone(t, fl); !errors.Is(err, ErrClosed) {
		t.Errorf("pending flush Err() = %v, want ErrClosed", err)
	}
	if ev := events.snapshot(); len(ev) != 1 || ev[0].committed || !errors.Is(ev[0].err, ErrClosed) {
		t.Errorf("sink calls %+v, want one Failed with ErrClosed", ev)
	}
	if len(c.attempts()) != 0 {
		t.Errorf("commit attempted for an object never uploaded")
	}
}

// recordingSink checks, under its own lock, that batches arrive once and in offset order.
type recordingSink struct {
	mu     sync.Mutex
	next   int64
	errs   []string
	failed int
}

func (s *recordingSink) Committed(key string, _ uint64, ext segment.Extent, batches []Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(batches) == 0 || ext.BaseOffset != batches[0].BaseOffset || ext.LastOffset != batches[len(batches)-1].LastOffset {
		s.errs = append(s.errs, fmt.Sprintf("extent [%d, %d] does not match its %d batches", ext.BaseOffset, ext.LastOffset, len(batches)))
	}
	for _, b := range batches {
		if b.BaseOffset != s.next {
			s.errs = append(s.errs, fmt.Sprintf("committed offset %d, want %d", b.BaseOffset, s.next))
		}
		s.next = b.LastOffset + 1
	}
}

func (s *recordingSink) Failed(batches []Batch, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed += len(batches)
}

func TestConcurrentAppendsCommitEachBatchOnceInOrder(t *testing.T) {
	const partitions, perPartition = 8, 2000
	cfg := testConfig()
	cfg.FlushBytes = 16 << 10
	cfg.FlushInterval = 2 * time.Millisecond
	cfg.BufferBytes = 128 << 10
	c := &fakeCommitter{}
	f := newTestFlusher(t, cfg, newMemStore(false), c)

	sinks := make([]*recordingSink, partitions)
	last := make([]*Flush, partitions)
	var wg sync.WaitGroup
	for p := range partitions {
		sinks[p] = &recordingSink{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := partitionID(1, int32(p), 0)
			ctx := context.Background()
			for i := range int64(perPartition) {
				b := testBatch(byte(p), i, i, 32+int(i%7)*16)
				if err := f.Reserve(ctx, int64(len(b.Data))); err != nil {
					t.Errorf("partition %d: Reserve: %v", p, err)
					return
				}
				last[p] = f.Append(sinks[p], id, b)
			}
		}()
	}
	wg.Wait()
	f.Flush()
	for p, fl := range last {
		if err := waitDone(t, fl); err != nil {
			t.Fatalf("partition %d: last flush: %v", p, err)
		}
	}
	for p, s := range sinks {
		s.mu.Lock()
		if len(s.errs) > 0 {
			t.Errorf("partition %d: %d ordering errors, first: %s", p, len(s.errs), s.errs[0])
		}
		if s.next != perPartition || s.failed != 0 {
			t.Errorf("partition %d: committed up to %d with %d failed, want %d and 0", p, s.next, s.failed, perPartition)
		}
		s.mu.Unlock()
	}
	for i, cl := range c.committed() {
		if cl.seq != uint64(i) {
			t.Fatalf("commit %d has seq %d", i, cl.seq)
		}
	}
	if n := f.PendingBytes(); n != 0 {
		t.Errorf("PendingBytes() = %d after every flush committed", n)
	}
}

func concat(batches ...Batch) []byte {
	var out []byte
	for _, b := range batches {
		out = append(out, b.Data...)
	}
	return out
}

func extentEqual(a, b segment.Extent) bool {
	return a.TopicID == b.TopicID && a.Partition == b.Partition && a.LeaderEpoch == b.LeaderEpoch &&
		a.BaseOffset == b.BaseOffset && a.LastOffset == b.LastOffset && a.Pos == b.Pos && a.Len == b.Len &&
		a.MaxTimestamp == b.MaxTimestamp && a.Batches == b.Batches && bytes.Equal(a.ProducerState, b.ProducerState)
}

func batchesEqual(a, b []Batch) bool {
	return slices.EqualFunc(a, b, func(x, y Batch) bool {
		return bytes.Equal(x.Data, y.Data) && x.BaseOffset == y.BaseOffset && x.LastOffset == y.LastOffset && x.MaxTimestamp == y.MaxTimestamp
	})
}

func sinkNames(events []sinkEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.sink)
	}
	return out
}

// groupCommitSetup commits flush 0 alone behind a gate while flushes 1-3 are cut and
// uploaded, then opens the gate: the committer finds 1-3 waiting together. It returns the
// flushes and the sinks' event log.
func groupCommitSetup(t *testing.T, c *fakeGroupCommitter) ([]*Flush, *eventLog) {
	t.Helper()
	gate := make(chan struct{})
	c.gate = gate
	cfg := testConfig()
	cfg.UploadConcurrency = 4
	f := newTestFlusher(t, cfg, newMemStore(false), c)
	events := &eventLog{}
	a := &fakeSink{name: "a", log: events}
	id := partitionID(1, 0, 1)
	var fls []*Flush
	for i := range 4 {
		appendReserved(t, f, a, id, testBatch('a', int64(i), int64(i), 10))
		fls = append(fls, cutNow(t, f))
		if i == 0 {
			waitFor(t, "flush 0's commit to reach the gate", func() bool { return c.entered.Load() == 1 })
		}
	}
	waitFor(t, "uploads of flushes 1-3", func() bool {
		for _, fl := range fls[1:] {
			select {
			case <-fl.uploadDone:
			default:
				return false
			}
		}
		return true
	})
	// The committer holds flush 0 at the gate; 1-3 are queued. A closed gate holds
	// nothing back.
	close(gate)
	for _, fl := range fls {
		if err := waitDone(t, fl); err != nil {
			t.Fatal(err)
		}
	}
	return fls, events
}

// checkCommittedInOrder fails unless sink "a" saw offsets 0-3 committed in order.
func checkCommittedInOrder(t *testing.T, events *eventLog) {
	t.Helper()
	var offs []int64
	for _, e := range events.of("a") {
		if !e.committed {
			t.Fatalf("sink a Failed: %v", e.err)
		}
		for _, bt := range e.batches {
			offs = append(offs, bt.BaseOffset)
		}
	}
	if !slices.Equal(offs, []int64{0, 1, 2, 3}) {
		t.Errorf("sink a committed offsets %v, want [0 1 2 3]", offs)
	}
}

// TestGroupCommitCommitsWaitingFlushesAtOnce: flushes uploaded while an earlier commit
// runs are committed in one group, in cut order, and their sinks told in that order.
func TestGroupCommitCommitsWaitingFlushesAtOnce(t *testing.T) {
	c := &fakeGroupCommitter{}
	_, events := groupCommitSetup(t, c)
	if got := c.attempts(); !slices.Equal(got, []uint64{0}) {
		t.Errorf("one-by-one commits %v, want [0] (the gated first)", got)
	}
	if got := c.groupCalls(); len(got) != 1 || !slices.Equal(got[0], []uint64{1, 2, 3}) {
		t.Errorf("group commits %v, want [[1 2 3]]", got)
	}
	checkCommittedInOrder(t, events)
}

// TestFailedGroupCommitGoesOneByOne: a group that does not commit whole is committed again
// one by one, in order, and every batch is committed once.
func TestFailedGroupCommitGoesOneByOne(t *testing.T) {
	c := &fakeGroupCommitter{failGroup: func([]uint64) error { return errInjected }}
	_, events := groupCommitSetup(t, c)
	if got := c.groupCalls(); len(got) != 1 {
		t.Errorf("group commit attempts %v, want one", got)
	}
	if got := c.attempts(); !slices.Equal(got, []uint64{0, 1, 2, 3}) {
		t.Errorf("one-by-one commits %v, want [0 1 2 3]", got)
	}
	checkCommittedInOrder(t, events)
}
