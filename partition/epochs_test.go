package partition

import (
	"errors"
	"slices"
	"testing"
)

// TestEpochHistoryEndOffsetFor checks OffsetForLeaderEpoch's answers against the rules of
// Kafka's LeaderEpochFileCache.endOffsetFor, on a history where epochs 3, 5 and 6 never
// led or wrote nothing.
func TestEpochHistoryEndOffsetFor(t *testing.T) {
	h := epochHistory{{2, 10}, {4, 25}, {7, 40}}
	const logEnd = 55
	tests := []struct {
		name      string
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"undefined epoch", -1, -1, -1},
		{"negative epoch below the history", -5, -5, 10},
		{"epoch below the history ends where the oldest begins", 0, 0, 10},
		{"epoch just below the history", 1, 1, 10},
		{"oldest epoch ends where the next begins", 2, 2, 25},
		{"epoch between entries gets the one below", 3, 2, 25},
		{"middle epoch", 4, 4, 40},
		{"epochs that wrote nothing get the one below", 6, 4, 40},
		{"current epoch ends at the log end", 7, 7, logEnd},
		{"epoch newer than the current", 8, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, end := h.endOffsetFor(tt.epoch, logEnd)
			if e != tt.wantEpoch || end != tt.wantEnd {
				t.Errorf("endOffsetFor(%d) = (%d, %d), want (%d, %d)", tt.epoch, e, end, tt.wantEpoch, tt.wantEnd)
			}
		})
	}
}

func TestEpochHistoryEndOffsetForEmptyHistory(t *testing.T) {
	for _, epoch := range []int32{-1, 0, 3} {
		if e, end := epochHistory(nil).endOffsetFor(epoch, 10); e != UndefinedEpoch || end != UndefinedEpochOffset {
			t.Errorf("endOffsetFor(%d) of an empty history = (%d, %d), want (-1, -1)", epoch, e, end)
		}
	}
}

// TestEpochHistoryAssign checks Kafka's rule for a new entry: entries at the end whose
// epoch or start offset is not below the new one's are replaced.
func TestEpochHistoryAssign(t *testing.T) {
	base := epochHistory{{2, 10}, {4, 25}}
	tests := []struct {
		name string
		e    EpochStart
		want epochHistory
	}{
		{"new epoch at a later offset is appended", EpochStart{5, 30}, epochHistory{{2, 10}, {4, 25}, {5, 30}}},
		{"the latest epoch again at a later offset changes nothing", EpochStart{4, 30}, base},
		{"the latest epoch again at its start changes nothing", EpochStart{4, 25}, base},
		{"the latest epoch at an earlier offset moves its start", EpochStart{4, 20}, epochHistory{{2, 10}, {4, 20}}},
		{"a new epoch where the latest began replaces it (it wrote nothing)", EpochStart{5, 25}, epochHistory{{2, 10}, {5, 25}}},
		{"a new epoch below later starts replaces them", EpochStart{5, 8}, epochHistory{{5, 8}}},
		{"an older epoch replaces the newer ones", EpochStart{3, 30}, epochHistory{{2, 10}, {3, 30}}},
		{"a negative epoch is ignored", EpochStart{-1, 30}, base},
		{"a negative offset is ignored", EpochStart{5, -1}, base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(base).assign(tt.e)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%v.assign(%v) = %v, want %v", base, tt.e, got, tt.want)
			}
		})
	}
}

// TestEpochHistoryIsBounded: a partition whose leadership moved more often than the bound
// keeps the newest MaxEpochHistory entries, and the dropped epochs are answered with an end
// offset at or after their true end (never a truncation below a consumer's position).
func TestEpochHistoryIsBounded(t *testing.T) {
	var h epochHistory
	const n = MaxEpochHistory + 36
	for i := range int32(n) {
		h = h.assign(EpochStart{Epoch: i, StartOffset: int64(i) * 100})
	}
	if len(h) != MaxEpochHistory {
		t.Fatalf("after %d epochs the history holds %d entries, want %d", n, len(h), MaxEpochHistory)
	}
	if first, last := h[0], h[len(h)-1]; first.Epoch != n-MaxEpochHistory || last.Epoch != n-1 {
		t.Fatalf("history holds epochs %d-%d, want the newest %d-%d", first.Epoch, last.Epoch, n-MaxEpochHistory, n-1)
	}
	for epoch := range int32(n - MaxEpochHistory) {
		trueEnd := int64(epoch+1) * 100
		e, end := h.endOffsetFor(epoch, n*100)
		if e != epoch || end < trueEnd {
			t.Errorf("dropped epoch %d answered (%d, %d); want itself and an end at or after %d", epoch, e, end, trueEnd)
		}
	}
}

func TestEpochHistoryTruncateStart(t *testing.T) {
	base := epochHistory{{2, 10}, {4, 25}, {7, 40}}
	tests := []struct {
		name     string
		logStart int64
		want     epochHistory
	}{
		{"log start below the history", 5, base},
		{"log start at the oldest start", 10, base},
		{"log start inside an epoch starts that epoch there", 30, epochHistory{{4, 30}, {7, 40}}},
		{"log start at an epoch's start", 25, epochHistory{{4, 25}, {7, 40}}},
		{"log start in the latest epoch", 70, epochHistory{{7, 70}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(base).truncateStart(tt.logStart)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%v.truncateStart(%d) = %v, want %v", base, tt.logStart, got, tt.want)
			}
		})
	}
}

// TestNewAddsItsEpochToTheHistory: a takeover loads the checkpoint's history, drops what
// lies below the log start and adds its own epoch at the log end, as Kafka's makeLeader
// does; OffsetForLeaderEpoch is then answered from it, the current epoch ending at the
// high watermark.
func TestNewAddsItsEpochToTheHistory(t *testing.T) {
	h := newHarness(t)
	prev := testState() // epoch 5 wrote offsets 0-5
	batches := [][]byte{buildBatch(t, 1000), buildBatch(t, 1001, 1002, 1003), buildBatch(t, 1004, 1005)}
	st := testState()
	st.Extents = []Extent{
		h.putObject(t, "flush/9/1/a", prev, 0, batches[0], batches[1]),
		h.putObject(t, "flush/9/1/b", prev, 4, batches[2]),
	}
	st.LeaderEpoch = 8
	// Epoch 1 began below the log start; epoch 7 took over at 6 and wrote nothing.
	st.LogStart = 1
	st.Epochs = []EpochStart{{1, 0}, {5, 2}, {7, 6}}
	l := h.newLog(DefaultConfig(), st)
	if got, want := l.Epochs(), []EpochStart{{1, 1}, {5, 2}, {8, 6}}; !slices.Equal(got, want) {
		t.Fatalf("Epochs() after takeover = %v, want %v", got, want)
	}
	h.appendCommitted(t, l, buildBatch(t, 2000, 2001))

	tests := []struct {
		current, epoch int32
		wantEpoch      int32
		wantEnd        int64
		wantErr        error
	}{
		{-1, 8, 8, 8, nil}, // the high watermark
		{8, 8, 8, 8, nil},
		{8, 7, 5, 6, nil},
		{8, 5, 5, 6, nil},
		{8, 1, 1, 2, nil},
		{8, 0, 0, 1, nil},
		{8, -1, -1, -1, nil},
		{8, 9, -1, -1, nil},
		{7, 5, -1, -1, ErrFencedEpoch},
		{9, 5, -1, -1, ErrUnknownEpoch},
	}
	for _, tt := range tests {
		e, end, err := l.EndOffsetForEpoch(tt.current, tt.epoch)
		if e != tt.wantEpoch || end != tt.wantEnd || !errors.Is(err, tt.wantErr) {
			t.Errorf("EndOffsetForEpoch(current %d, epoch %d) = (%d, %d, %v), want (%d, %d, %v)",
				tt.current, tt.epoch, e, end, err, tt.wantEpoch, tt.wantEnd, tt.wantErr)
		}
	}
	l.Resign()
	if _, _, err := l.EndOffsetForEpoch(-1, 8); !errors.Is(err, ErrNotLeader) {
		t.Errorf("EndOffsetForEpoch after Resign = %v, want ErrNotLeader", err)
	}
}

// TestNewKeepsTheHistoryAtTheSameEpoch: a takeover at the epoch the checkpoint already
// ends with (a restart before the leadership moved) keeps that epoch's start.
func TestNewKeepsTheHistoryAtTheSameEpoch(t *testing.T) {
	h := newHarness(t)
	st := testState() // epoch 5 wrote offsets 2-5
	st.Extents = []Extent{h.putObject(t, "flush/9/1/a", st, 0, buildBatch(t, 1000, 1001), buildBatch(t, 1002, 1003, 1004, 1005))}
	st.Epochs = []EpochStart{{3, 0}, {5, 2}}
	l := h.newLog(DefaultConfig(), st)
	if got, want := l.Epochs(), []EpochStart{{3, 0}, {5, 2}}; !slices.Equal(got, want) {
		t.Fatalf("Epochs() = %v, want %v", got, want)
	}
}

// TestNewStartsTheHistoryAtTheLogStart: every stored epoch below the log start collapses
// into the one holding it, starting there.
func TestNewStartsTheHistoryAtTheLogStart(t *testing.T) {
	h := newHarness(t)
	st := testState() // epoch 5, nothing left above the log start
	st.LogStart = 42
	st.Epochs = []EpochStart{{3, 0}, {5, 30}}
	l := h.newLog(DefaultConfig(), st)
	if got, want := l.Epochs(), []EpochStart{{5, 42}}; !slices.Equal(got, want) {
		t.Fatalf("Epochs() = %v, want %v", got, want)
	}
}
