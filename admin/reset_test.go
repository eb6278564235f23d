package admin

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestNewOffsetStaysWithinTheLog(t *testing.T) {
	const start, end = 10, 50
	at := time.UnixMilli(1_700_000_000_000)
	byTime := kadm.ListedOffsets{"t": {
		0: {Topic: "t", Partition: 0, Offset: 30},
		1: {Topic: "t", Partition: 1, Offset: -1}, // nothing at or after the time
		2: {Topic: "t", Partition: 2, Err: errors.New("boom")},
	}}
	tests := []struct {
		name    string
		target  ResetTarget
		old     int64
		p       int32
		want    int64
		wantErr bool
	}{
		{"earliest", ResetTarget{Kind: ToEarliest}, 20, 0, start, false},
		{"latest", ResetTarget{Kind: ToLatest}, 20, 0, end, false},
		{"current", ResetTarget{Kind: ToCurrent}, 20, 0, 20, false},
		{"current without a commit is the log end", ResetTarget{Kind: ToCurrent}, -1, 0, end, false},
		{"current below the log start", ResetTarget{Kind: ToCurrent}, 3, 0, start, false},
		{"offset inside", ResetTarget{Kind: ToOffset, Offset: 42}, -1, 0, 42, false},
		{"offset below the start", ResetTarget{Kind: ToOffset, Offset: 0}, -1, 0, start, false},
		{"offset past the end", ResetTarget{Kind: ToOffset, Offset: 99}, -1, 0, end, false},
		{"shift back", ResetTarget{Kind: ShiftBy, Shift: -5}, 20, 0, 15, false},
		{"shift past the end", ResetTarget{Kind: ShiftBy, Shift: 100}, 20, 0, end, false},
		{"shift without a commit", ResetTarget{Kind: ShiftBy, Shift: 1}, -1, 0, 0, true},
		{"datetime", ResetTarget{Kind: ToDatetime, Time: at}, 20, 0, 30, false},
		{"datetime after the last record", ResetTarget{Kind: ToDatetime, Time: at}, 20, 1, end, false},
		{"datetime listing failed", ResetTarget{Kind: ToDatetime, Time: at}, 20, 2, 0, true},
		{"datetime of an unlisted partition", ResetTarget{Kind: ToDatetime, Time: at}, 20, 3, 0, true},
		{"unknown kind", ResetTarget{}, 20, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newOffset(tt.target, tt.old, start, end, byTime, "t", tt.p)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFormatPartitionsSortsTopics(t *testing.T) {
	got := FormatPartitions(map[string][]int32{"b": {3}, "a": {0, 1}})
	if want := "a:0,1 b:3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
