package producer

import (
	"errors"
	"reflect"
	"testing"
)

func rec(pid int64, epoch int16, first, last int32, base int64) Record {
	return Record{ProducerID: pid, Epoch: epoch, Batch: Batch{FirstSeq: first, LastSeq: last, BaseOffset: base, LastOffset: base + int64(last-first)}, Timestamp: base}
}

func TestApplyKeepsLastFiveAndResetsOnNewEpoch(t *testing.T) {
	s := State{}
	for i := range int32(7) {
		s.Apply(rec(1, 0, i*2, i*2+1, int64(i)*10))
	}
	e := s[1]
	if len(e.Batches) != MaxBatches || e.Batches[0].FirstSeq != 4 || e.LastSeq() != 13 {
		t.Fatalf("after 7 batches: %+v", e.Batches)
	}
	s.Apply(rec(1, 0, 12, 13, 60)) // a duplicate folds to nothing
	if len(e.Batches) != MaxBatches || e.LastSeq() != 13 {
		t.Fatalf("duplicate changed state: %+v", e.Batches)
	}
	s.Apply(rec(1, 2, 0, 0, 100))
	if e.Epoch != 2 || len(e.Batches) != 1 {
		t.Fatalf("new epoch did not reset: %+v", e)
	}
	s.Apply(rec(1, 1, 14, 14, 90)) // older epoch ignored
	if e.Epoch != 2 || len(e.Batches) != 1 {
		t.Fatalf("older epoch applied: %+v", e)
	}
}

func TestRecordsRoundTripRebuildsState(t *testing.T) {
	s := State{}
	for i := range int32(8) {
		s.Apply(rec(int64(i%3), int16(i%2), i, i, int64(i)))
	}
	enc := AppendRecords(nil, s.Records())
	recs, err := DecodeRecords(enc)
	if err != nil {
		t.Fatal(err)
	}
	s2 := State{}
	for _, r := range recs {
		s2.Apply(r)
	}
	if !reflect.DeepEqual(s, s2) {
		t.Fatalf("rebuilt state differs:\n%+v\n%+v", s, s2)
	}
}

func TestDecodeRecordsRejectsCorruptInput(t *testing.T) {
	good := AppendRecords(nil, []Record{rec(1, 0, 0, 0, 0)})
	for name, b := range map[string][]byte{
		"bad version": append([]byte{9}, good[1:]...),
		"truncated":   good[:len(good)-1],
		"short":       good[:3],
		"extra":       append(append([]byte{}, good...), 0),
	} {
		if _, err := DecodeRecords(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestCheckFollowsKafkaRules(t *testing.T) {
	view := &Entry{ProducerID: 1, Epoch: 3, Batches: []Batch{{0, 4, 100, 104}, {5, 9, 105, 109}}}
	tests := []struct {
		name        string
		view        *Entry
		epoch       int16
		first, last int32
		dup         int
		err         error
	}{
		{"unknown producer at any sequence", nil, 0, 42, 42, -1, nil},
		{"next in sequence", view, 3, 10, 12, -1, nil},
		{"duplicate of the last batch", view, 3, 5, 9, 1, nil},
		{"duplicate of an older batch", view, 3, 0, 4, 0, nil},
		{"gap", view, 3, 11, 12, -1, ErrOutOfOrder},
		{"older sequence not kept", view, 3, 2, 3, -1, ErrOutOfOrder},
		{"older epoch", view, 2, 10, 10, -1, ErrInvalidEpoch},
		{"new epoch from zero", view, 4, 0, 3, -1, nil},
		{"new epoch not from zero", view, 4, 10, 10, -1, ErrOutOfOrder},
		{"wrap around", &Entry{Epoch: 0, Batches: []Batch{{2147483640, 2147483647, 0, 7}}}, 0, 0, 1, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dup, err := Check(tt.view, tt.epoch, tt.first, tt.last)
			if dup != tt.dup || !errors.Is(err, tt.err) {
				t.Fatalf("Check = %d, %v; want %d, %v", dup, err, tt.dup, tt.err)
			}
		})
	}
}
