package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/producer"
	"github.com/kafscale/kafscale/segment"
)

func TestAppendAssignsDenseOffsetsAndPatchesHeader(t *testing.T) {
	tests := []struct {
		name     string
		logStart int64
	}{
		{"empty log", 0},
		{"log starting at 100", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			st := testState()
			st.LogStart = tt.logStart
			l := h.newLog(DefaultConfig(), st)

			var batches [][]byte
			var fl *flush.Flush
			want := tt.logStart
			for _, n := range []int{1, 3, 5, 2} {
				b := buildBatch(t, timestamps(1000, 1, n)...)
				var base int64
				base, fl = h.append(t, l, b)
				if base != want {
					t.Errorf("batch of %d records got base offset %d, want %d", n, base, want)
				}
				hd := header(t, b) // the CRC must still hold after the patch
				if hd.BaseOffset != base || hd.PartitionLeaderEpoch != st.LeaderEpoch {
					t.Errorf("patched header has base offset %d, leader epoch %d; want %d, %d",
						hd.BaseOffset, hd.PartitionLeaderEpoch, base, st.LeaderEpoch)
				}
				want += int64(n)
				batches = append(batches, b)
			}
			if _, hw, _ := l.Offsets(); hw != tt.logStart {
				t.Errorf("high watermark %d before any commit, want %d", hw, tt.logStart)
			}
			if err := h.commit(t, l, fl); err != nil {
				t.Fatal(err)
			}
			if _, hw, _ := l.Offsets(); hw != want {
				t.Errorf("high watermark %d after the commit, want %d", hw, want)
			}
			got, err := l.Read(context.Background(), tt.logStart, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !equalBatches(got, batches) {
				t.Errorf("Read returned %d batches that differ from the %d appended", len(got), len(batches))
			}
		})
	}
}

func TestAppendRefusesBatchesProducersMustNotSend(t *testing.T) {
	tests := []struct {
		name  string
		batch func(t *testing.T) []byte
		want  error
	}{
		{"no records", func(t *testing.T) []byte { return buildBatchCounts(t, 0, 0, nil) }, ErrEmptyBatch},
		{"fewer records than offsets", func(t *testing.T) []byte {
			return buildBatchCounts(t, 2, 4, []int64{1000, 1001})
		}, ErrRecordCountBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			l := h.newLog(DefaultConfig(), testState())
			bad := tt.batch(t)
			orig := bytes.Clone(bad)
			if _, err := l.Append(bad, header(t, bad)); !errors.Is(err, tt.want) {
				t.Fatalf("Append = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(bad, orig) {
				t.Error("a refused batch was patched")
			}
			if base, _ := h.append(t, l, buildBatch(t, 1000)); base != 0 {
				t.Errorf("next batch got base offset %d, want 0: the refused batch used offsets", base)
			}
		})
	}
}

func TestReadBeforeCommitServesNothing(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	b := buildBatch(t, 1000, 1001, 1002)
	_, fl := h.append(t, l, b)
	ctx := context.Background()

	for _, tt := range []struct {
		offset  int64
		wantErr error
	}{
		{0, nil}, // at the high watermark: nothing yet
		{1, ErrOffsetRange},
		{3, ErrOffsetRange},
		{-1, ErrOffsetRange},
	} {
		got, err := l.Read(ctx, tt.offset, 1<<20)
		if !errors.Is(err, tt.wantErr) || len(got) != 0 {
			t.Errorf("before commit Read(%d) = %d batches, %v; want none, %v", tt.offset, len(got), err, tt.wantErr)
		}
	}
	if err := h.commit(t, l, fl); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		offset  int64
		want    int
		wantErr error
	}{
		{0, 1, nil},
		{2, 1, nil},
		{3, 0, nil}, // the new high watermark
		{4, 0, ErrOffsetRange},
	} {
		got, err := l.Read(ctx, tt.offset, 1<<20)
		if !errors.Is(err, tt.wantErr) || len(got) != tt.want {
			t.Errorf("after commit Read(%d) = %d batches, %v; want %d, %v", tt.offset, len(got), err, tt.want, tt.wantErr)
		}
	}
}

// TestReadServesCommittedBatches reads the same log served from the in-memory tail and,
// with a tail of one batch, from the flush objects through the range cache.
func TestReadServesCommittedBatches(t *testing.T) {
	for _, mode := range []struct {
		name        string
		tailBytes   int64
		objectReads bool
	}{
		{"tail", 1 << 20, false},
		{"objects", 1, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			l := h.newLog(Config{TailBytes: mode.tailBytes}, testState())
			b0 := buildBatch(t, 1000)             // offset 0
			b1 := buildBatch(t, 1001, 1002, 1003) // offsets 1-3
			b2 := buildBatch(t, 1004, 1005)       // offsets 4-5
			h.appendCommitted(t, l, b0, b1)       // object 1
			h.appendCommitted(t, l, b2)           // object 2
			two := int64(len(b0) + len(b1))       // exactly b0 and b1
			ctx := context.Background()
			tests := []struct {
				name     string
				offset   int64
				maxBytes int64
				want     [][]byte
			}{
				{"all from the start", 0, 1 << 20, [][]byte{b0, b1, b2}},
				{"max bytes below one batch", 0, 1, [][]byte{b0}},
				{"max bytes of two batches", 0, two, [][]byte{b0, b1}},
				{"middle of a batch", 2, 1, [][]byte{b1}},
				{"middle of a batch onwards", 2, 1 << 20, [][]byte{b1, b2}},
				{"middle of the last batch", 5, 1, [][]byte{b2}},
				{"at the high watermark", 6, 1 << 20, nil},
			}
			for _, tt := range tests {
				got, err := l.Read(ctx, tt.offset, tt.maxBytes)
				if err != nil {
					t.Fatalf("%s: Read(%d, %d): %v", tt.name, tt.offset, tt.maxBytes, err)
				}
				if !equalBatches(got, tt.want) {
					t.Errorf("%s: Read(%d, %d) = %s, want %s", tt.name, tt.offset, tt.maxBytes, describe(t, got), describe(t, tt.want))
				}
			}
			s := h.cache.Stats()
			if used := s.Hits+s.Misses > 0; used != mode.objectReads {
				t.Errorf("range cache used = %v (%+v), want %v", used, s, mode.objectReads)
			}
		})
	}
}

func TestWaiterSignalledWhenHighWatermarkMoves(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	moved := waitOn(l)
	_, fl := h.append(t, l, buildBatch(t, 1000))
	if isClosed(moved) {
		t.Fatal("waiter signalled by an append that is not committed")
	}
	if err := h.commit(t, l, fl); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "waiter after the commit", moved)
	if isClosed(waitOn(l)) {
		t.Error("a new waiter at the new high watermark is signalled already")
	}
}

func TestResignStopsAppendsAndWakesReaders(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	moved := waitOn(l)
	l.Resign()
	waitClosed(t, "waiter after Resign", moved)
	if l.Leader() {
		t.Error("Leader() true after Resign")
	}
	b := buildBatch(t, 1000)
	if _, err := l.Append(b, header(t, b)); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Append after Resign = %v, want ErrNotLeader", err)
	}
	if err := l.CheckEpoch(5); !errors.Is(err, ErrNotLeader) {
		t.Errorf("CheckEpoch after Resign = %v, want ErrNotLeader", err)
	}
}

func TestCheckEpoch(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState()) // epoch 5
	tests := []struct {
		epoch int32
		want  error
	}{
		{-1, nil},
		{5, nil},
		{4, ErrFencedEpoch},
		{0, ErrFencedEpoch},
		{6, ErrUnknownEpoch},
	}
	for _, tt := range tests {
		if err := l.CheckEpoch(tt.epoch); !errors.Is(err, tt.want) {
			t.Errorf("CheckEpoch(%d) = %v, want %v", tt.epoch, err, tt.want)
		}
	}
}

func TestNewResumesFromTakeoverState(t *testing.T) {
	tests := []struct {
		name     string
		extents  bool  // two objects holding offsets 0-5
		logStart int64 // first readable offset
		wantHW   int64
		wantRead int // index of the batch Read(logStart) starts with; -1: no data
	}{
		{"no extents", false, 42, 42, -1},
		{"extents", true, 0, 6, 0},
		{"log start inside a batch", true, 2, 6, 1},
		{"log start past the extents", true, 10, 10, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			st := testState()
			st.LogStart = tt.logStart
			var batches [][]byte
			if tt.extents {
				batches = [][]byte{buildBatch(t, 1000), buildBatch(t, 1001, 1002, 1003), buildBatch(t, 1004, 1005)}
				st.Extents = []Extent{
					h.putObject(t, "flush/9/1/a", st, 0, batches[0], batches[1]),
					h.putObject(t, "flush/9/1/b", st, 4, batches[2]),
				}
			}
			st.LeaderEpoch++ // the new leader's epoch
			l := h.newLog(Config{TailBytes: 1}, st)

			logStart, hw, epoch := l.Offsets()
			if logStart != tt.logStart || hw != tt.wantHW || epoch != st.LeaderEpoch {
				t.Fatalf("Offsets() = %d, %d, %d; want %d, %d, %d", logStart, hw, epoch, tt.logStart, tt.wantHW, st.LeaderEpoch)
			}
			ctx := context.Background()
			if tt.logStart > 0 {
				if _, err := l.Read(ctx, tt.logStart-1, 1<<20); !errors.Is(err, ErrOffsetRange) {
					t.Errorf("Read below the log start = %v, want ErrOffsetRange", err)
				}
			}
			got, err := l.Read(ctx, tt.logStart, 1)
			if err != nil {
				t.Fatalf("Read(%d): %v", tt.logStart, err)
			}
			switch {
			case tt.wantRead < 0 && len(got) != 0:
				t.Errorf("Read(%d) = %d batches, want none", tt.logStart, len(got))
			case tt.wantRead >= 0 && !equalBatches(got, batches[tt.wantRead:tt.wantRead+1]):
				t.Errorf("Read(%d) = %s, want batch %d", tt.logStart, describe(t, got), tt.wantRead)
			}

			nb := buildBatch(t, 2000)
			base, fl := h.append(t, l, nb)
			if base != tt.wantHW {
				t.Errorf("first append after takeover got offset %d, want %d", base, tt.wantHW)
			}
			if err := h.commit(t, l, fl); err != nil {
				t.Fatal(err)
			}
			if got, err := l.Read(ctx, base, 1<<20); err != nil || !equalBatches(got, [][]byte{nb}) {
				t.Errorf("Read of the new batch = %s, %v", describe(t, got), err)
			}
			if _, next, _ := l.Offsets(); next != base+1 || !l.TakeDirty() {
				t.Errorf("after a commit: high watermark %d, want %d, and the partition dirty", next, base+1)
			}
		})
	}
}

// TestWaitOnVoidedAppendDoesNotReportSuccess: the broker acknowledges a produce when
// Flush.Wait returns nil. When the partition's batches were committed as void (its
// leadership moved while the object was in flight), the Flush's error is nil because the
// object as a whole committed, so the producer is told its records are durable although
// they never become visible: DESIGN.md says they get NOT_LEADER_OR_FOLLOWER.
func TestWaitOnVoidedAppendDoesNotReportSuccess(t *testing.T) {
	h := newHarness(t)
	h.com.void = func(_ uint64, obj flush.Object) []flush.PartitionID { return obj.Partitions }
	l := h.newLog(DefaultConfig(), testState())
	moved := waitOn(l)
	base, fl := h.append(t, l, buildBatch(t, 1000))
	err := h.commit(t, l, fl)

	waitClosed(t, "waiter after the void", moved)
	if l.Leader() {
		t.Error("Leader() true after its batches were voided")
	}
	if _, hw, _ := l.Offsets(); err == nil && hw <= base {
		t.Errorf("Flush.Wait reported success for the voided batch at offset %d (high watermark %d): "+
			"the produce would be acknowledged though it was never committed", base, hw)
	}
}

func equalBatches(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// describe lists batches as their offset ranges.
func describe(t *testing.T, batches [][]byte) string {
	s := "["
	for i, b := range batches {
		if i > 0 {
			s += " "
		}
		hd := header(t, b)
		s += fmt.Sprintf("%d-%d", hd.BaseOffset, hd.LastOffset())
	}
	return s + "]"
}

// TestProducersDropsExpiredProducers: DescribeProducers must not list a producer whose last
// batch is older than producer.id.expiration.ms, even on a partition that takes no writes
// (and so is never checkpointed, where expiry otherwise happens).
func TestProducersDropsExpiredProducers(t *testing.T) {
	h := newHarness(t)
	st := testState()
	now := time.Now().UnixMilli()
	st.Producers = producer.State{}
	st.Producers.Apply(producer.Record{ProducerID: 1, Batch: producer.Batch{FirstSeq: 0, LastSeq: 4}, Timestamp: now - 2*time.Hour.Milliseconds()})
	st.Producers.Apply(producer.Record{ProducerID: 2, Batch: producer.Batch{FirstSeq: 0, LastSeq: 4}, Timestamp: now})
	l := h.newLog(Config{TailBytes: 1 << 20, ProducerExpiration: time.Hour}, st)
	got := l.Producers()
	if len(got) != 1 || got[0].ProducerID != 2 {
		t.Fatalf("Producers() = %+v, want only producer 2 (producer 1 expired an hour ago)", got)
	}
	if snap, _ := l.ProducerSnapshot(); len(snap) == 0 {
		t.Fatal("the snapshot lost the live producer")
	}
}

// TestSequentialReadPrefetchesTheNextRange: a consumer reading objects in order should find
// the next range cached when it asks for it. Read starts background loads of the extents
// after the ones it returns, ReadAheadBytes ahead (here: one range), so the next Read costs
// no GET.
func TestSequentialReadPrefetchesTheNextRange(t *testing.T) {
	h := newHarness(t)
	st := testState()
	batches := [][]byte{buildBatch(t, 1000), buildBatch(t, 1001, 1002, 1003), buildBatch(t, 1004, 1005)}
	keys := []string{"flush/9/1/a", "flush/9/1/b", "flush/9/1/c"}
	var base int64
	for i, b := range batches {
		e := h.putObject(t, keys[i], st, base, b)
		st.Extents = append(st.Extents, e)
		base = e.LastOffset + 1
	}
	store := newCountingStore(h.store)
	cache, err := segment.NewCache(segment.CacheConfig{CacheBytes: 1 << 20}, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Close) // joins the read-ahead goroutines before the store's directory goes
	// One range ahead.
	l := New(Config{TailBytes: 1, ReadAheadBytes: 1}, st, h.flusher, cache)
	ctx := context.Background()

	got, err := l.Read(ctx, 0, 1) // the first range only
	if err != nil || !equalBatches(got, batches[:1]) {
		t.Fatalf("Read(0) = %s, %v; want the first batch", describe(t, got), err)
	}
	waitFor(t, "read-ahead of "+keys[1], func() bool {
		_, finished := store.gets(keys[1])
		return finished > 0
	})
	cache.Wait() // ristretto applies the read-ahead's insertion asynchronously
	if started, _ := store.gets(keys[2]); started != 0 {
		t.Errorf("%s fetched %d times after reading only %s; want 0: read-ahead is of the next range only", keys[2], started, keys[0])
	}

	got, err = l.Read(ctx, st.Extents[1].BaseOffset, 1)
	if err != nil || !equalBatches(got, batches[1:2]) {
		t.Fatalf("Read(%d) = %s, %v; want the second batch", st.Extents[1].BaseOffset, describe(t, got), err)
	}
	if started, _ := store.gets(keys[1]); started != 1 {
		t.Errorf("%s fetched %d times; want 1, by the read-ahead: the sequential Read was not served from the cache", keys[1], started)
	}
}

// TestDeleteBeforeMovesTheLogStart: DeleteRecords' rules, as Kafka's: the log start moves
// forward only, -1 means the high watermark, an offset past it is out of range; reads below
// the new start are out of range and a read at it returns the batch holding it.
func TestDeleteBeforeMovesTheLogStart(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	_, fl := h.append(t, l, buildBatch(t, 1000, 1001, 1002))
	if err := h.commit(t, l, fl); err != nil {
		t.Fatal(err)
	}
	_, fl = h.append(t, l, buildBatch(t, 1003, 1004))
	if err := h.commit(t, l, fl); err != nil {
		t.Fatal(err)
	}
	l.TakeDirty()
	for _, tt := range []struct {
		offset, want int64
		wantErr      error
	}{
		{1, 1, nil},
		{0, 1, nil}, // below the log start: nothing changes
		{6, 1, ErrOffsetRange},
		{-2, 1, ErrOffsetRange},
		{4, 4, nil},
		{HighWatermark, 5, nil},
	} {
		got, err := l.DeleteBefore(tt.offset)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("DeleteBefore(%d) = %d, %v; want %d, %v", tt.offset, got, err, tt.want, tt.wantErr)
		}
	}
	if !l.TakeDirty() {
		t.Error("a moved log start does not mark the partition for its next checkpoint")
	}
	if start, hw, _ := l.Offsets(); start != 5 || hw != 5 {
		t.Errorf("offsets %d-%d, want 5-5", start, hw)
	}
	ctx := context.Background()
	if _, err := l.Read(ctx, 4, 1<<20); !errors.Is(err, ErrOffsetRange) {
		t.Errorf("Read below the log start: %v, want ErrOffsetRange", err)
	}
	if got, err := l.Read(ctx, 5, 1<<20); err != nil || len(got) != 0 {
		t.Errorf("Read at the log start = high watermark: %d batches, %v; want none", len(got), err)
	}
}

// TestDeleteBeforeInsideABatch: a log start inside a batch serves that batch from it.
func TestDeleteBeforeInsideABatch(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	_, fl := h.append(t, l, buildBatch(t, 1000, 1001, 1002))
	if err := h.commit(t, l, fl); err != nil {
		t.Fatal(err)
	}
	if got, err := l.DeleteBefore(1); got != 1 || err != nil {
		t.Fatalf("DeleteBefore(1) = %d, %v", got, err)
	}
	got, err := l.Read(context.Background(), 1, 1<<20)
	if err != nil || len(got) != 1 {
		t.Fatalf("Read(1) = %d batches, %v; want the batch holding offset 1", len(got), err)
	}
	if _, err := l.Read(context.Background(), 0, 1<<20); !errors.Is(err, ErrOffsetRange) {
		t.Errorf("Read(0) below the log start: %v, want ErrOffsetRange", err)
	}
}

// TestRetentionStart: whole extents go from the oldest while too old or while the rest
// still holds retention.bytes; the newest always stays; -1 disables each limit.
func TestRetentionStart(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	// Three extents of 3 records each, with timestamps 1000, 2000 and 3000.
	for i := range 3 {
		ts := int64(1000 * (i + 1))
		_, fl := h.append(t, l, buildBatch(t, ts, ts, ts))
		if err := h.commit(t, l, fl); err != nil {
			t.Fatal(err)
		}
	}
	size := l.StoredBytes() / 3
	for _, tc := range []struct {
		name           string
		now, ms, bytes int64
		want           int64
	}{
		{"no limits", 10000, -1, -1, 0},
		{"none expired", 3500, 3000, -1, 0},
		{"the first expired", 3500, 2000, -1, 3},
		{"all expired: the newest stays", 100000, 0, -1, 6},
		{"two extents fit", 0, -1, 2 * size, 3},
		{"one extent fits", 0, -1, size, 6},
		{"zero bytes: the newest stays", 0, -1, 0, 6},
	} {
		if got := l.RetentionStart(tc.now, tc.ms, tc.bytes); got != tc.want {
			t.Errorf("%s: RetentionStart(now %d, ms %d, bytes %d) = %d, want %d", tc.name, tc.now, tc.ms, tc.bytes, got, tc.want)
		}
	}
	if _, err := l.DeleteBefore(4); err != nil {
		t.Fatal(err)
	}
	if got := l.RetentionStart(3500, 2000, -1); got != 4 {
		t.Errorf("after the log start moved inside the second extent, RetentionStart = %d, want 4 (never below it)", got)
	}
}

// TestWaiterOnlyForItsPartitionAndNotLost: a waiter registered on one partition is not
// signalled by another's commit; one registered with a high watermark already passed is
// signalled at once (a commit between a fetch's read and its wait is not lost); Unwait
// stops signals.
func TestWaiterOnlyForItsPartitionAndNotLost(t *testing.T) {
	h := newHarness(t)
	st := testState()
	a := h.newLog(DefaultConfig(), st)
	st.Partition = 1
	b := h.newLog(DefaultConfig(), st)
	w := NewWaiter()
	_, hw, _ := a.Offsets()
	a.Wait(w, hw)
	_, fl := h.append(t, b, buildBatch(t, 1000))
	if err := h.commit(t, b, fl); err != nil {
		t.Fatal(err)
	}
	if isClosed(w) {
		t.Fatal("a commit to partition 1 woke a fetch waiting on partition 0")
	}
	_, fl = h.append(t, a, buildBatch(t, 1000))
	if err := h.commit(t, a, fl); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "waiter after its partition's commit", w)

	late := NewWaiter()
	a.Wait(late, hw) // hw is stale: the commit above moved it
	if !isClosed(late) {
		t.Fatal("a waiter registered after the high watermark moved past what it saw was not signalled")
	}
	a.Unwait(w)
	a.Unwait(late)
	_, fl = h.append(t, a, buildBatch(t, 1000))
	if err := h.commit(t, a, fl); err != nil {
		t.Fatal(err)
	}
	if isClosed(w) || isClosed(late) {
		t.Fatal("a waiter was signalled after Unwait")
	}
}
