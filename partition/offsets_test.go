package partition

import (
	"context"
	"testing"
)

// logSetup builds a partition holding batches (each a list of record timestamps) split
// into objects, in one of three ways: appended and served from the tail, appended with a
// one-batch tail so older reads go to the objects, or written by a previous leader and
// handed over in State.
type logSetup struct {
	name string
	make func(t *testing.T, h *harness, st State, objects ...[][]int64) *Log
}

var logSetups = []logSetup{
	{"tail", func(t *testing.T, h *harness, st State, objects ...[][]int64) *Log {
		return appendObjects(t, h, Config{TailBytes: 1 << 20}, st, objects)
	}},
	{"objects", func(t *testing.T, h *harness, st State, objects ...[][]int64) *Log {
		return appendObjects(t, h, Config{TailBytes: 1}, st, objects)
	}},
	{"takeover", func(t *testing.T, h *harness, st State, objects ...[][]int64) *Log {
		base := st.LogStart
		for i, obj := range objects {
			var batches [][]byte
			for _, ts := range obj {
				batches = append(batches, buildBatch(t, ts...))
			}
			st.Extents = append(st.Extents, h.putObject(t, "flush/9/1/"+string(rune('a'+i)), st, base, batches...))
			base = st.Extents[len(st.Extents)-1].LastOffset + 1
		}
		st.LeaderEpoch++
		return h.newLog(Config{TailBytes: 1}, st)
	}},
}

func appendObjects(t *testing.T, h *harness, cfg Config, st State, objects [][][]int64) *Log {
	l := h.newLog(cfg, st)
	for _, obj := range objects {
		var batches [][]byte
		for _, ts := range obj {
			batches = append(batches, buildBatch(t, ts...))
		}
		h.appendCommitted(t, l, batches...)
	}
	return l
}

func TestOffsetForTimestamp(t *testing.T) {
	objects := [][][]int64{
		{{100, 101, 102}, {200, 205}}, // offsets 0-2, 3-4
		{{300, 310}, {400, 350}},      // offsets 5-6, 7-8
	}
	tests := []struct {
		ts         int64
		wantOffset int64
		wantTs     int64
		found      bool
	}{
		{0, 0, 100, true},
		{100, 0, 100, true},
		{101, 1, 101, true},
		{103, 3, 200, true}, // the next batch
		{201, 4, 205, true},
		{206, 5, 300, true}, // the next object
		{310, 6, 310, true},
		{311, 7, 400, true},
		{350, 7, 400, true}, // the first record in offset order, not the closest timestamp
		{400, 7, 400, true},
		{401, -1, -1, false},
	}
	for _, setup := range logSetups {
		t.Run(setup.name, func(t *testing.T) {
			h := newHarness(t)
			l := setup.make(t, h, testState(), objects...)
			for _, tt := range tests {
				off, ts, found, err := l.OffsetForTimestamp(context.Background(), tt.ts)
				if err != nil {
					t.Fatalf("OffsetForTimestamp(%d): %v", tt.ts, err)
				}
				if found != tt.found || (found && (off != tt.wantOffset || ts != tt.wantTs)) {
					t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v",
						tt.ts, off, ts, found, tt.wantOffset, tt.wantTs, tt.found)
				}
			}
		})
	}
}

func TestOffsetForTimestampOnEmptyLog(t *testing.T) {
	h := newHarness(t)
	l := h.newLog(DefaultConfig(), testState())
	if off, ts, found, err := l.OffsetForTimestamp(context.Background(), 0); err != nil || found {
		t.Errorf("OffsetForTimestamp on an empty log = %d, %d, %v, %v; want not found", off, ts, found, err)
	}
}

// TestOffsetForTimestampSkipsRecordsBelowLogStart: after DeleteRecords moved the log start
// into a batch, Kafka answers ListOffsets by timestamp with offsets at or above the log
// start only (LogSegment.findOffsetByTimestamp filters record.offset >= startingOffset);
// an offset below it would be out of range for the consumer's next fetch.
func TestOffsetForTimestampSkipsRecordsBelowLogStart(t *testing.T) {
	h := newHarness(t)
	st := testState()
	batch := buildBatch(t, 100, 101, 102, 103, 104) // offsets 0-4
	st.Extents = []Extent{h.putObject(t, "flush/9/1/a", st, 0, batch)}
	st.LogStart = 2
	l := h.newLog(DefaultConfig(), st)
	for _, target := range []int64{0, 101, 102} {
		off, ts, found, err := l.OffsetForTimestamp(context.Background(), target)
		if err != nil || !found || off != 2 || ts != 102 {
			t.Errorf("OffsetForTimestamp(%d) with log start 2 = %d, %d, %v, %v; want 2, 102, true", target, off, ts, found, err)
		}
	}
}

func TestMaxTimestamp(t *testing.T) {
	tests := []struct {
		name       string
		objects    [][][]int64
		wantOffset int64
		wantTs     int64
		found      bool
	}{
		{"empty log", nil, -1, -1, false},
		{"first batch", [][][]int64{{{100, 900, 200}, {300}}}, 1, 900, true},
		// The largest timestamp sits in a later batch of the same object: after takeover
		// the index knows only the extent's base offset.
		{"later batch of an object", [][][]int64{{{100, 200}, {150, 500, 300}}}, 3, 500, true},
		{"later object", [][][]int64{{{100}}, {{50, 700}}}, 2, 700, true},
	}
	for _, setup := range logSetups {
		t.Run(setup.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					h := newHarness(t)
					l := setup.make(t, h, testState(), tt.objects...)
					off, ts, found, err := l.MaxTimestamp(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if found != tt.found || (found && (off != tt.wantOffset || ts != tt.wantTs)) {
						t.Errorf("MaxTimestamp() = %d, %d, %v; want %d, %d, %v", off, ts, found, tt.wantOffset, tt.wantTs, tt.found)
					}
				})
			}
		})
	}
}
