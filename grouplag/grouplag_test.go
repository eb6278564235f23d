package grouplag

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeSource is an in-memory Source.
type fakeSource struct {
	pos  []Position
	ends map[PartitionID]End
	err  error
}

func (f *fakeSource) Committed(context.Context) ([]Position, error) {
	return append([]Position(nil), f.pos...), f.err
}

func (f *fakeSource) Ends(_ context.Context, parts []PartitionID) (map[PartitionID]End, error) {
	out := map[PartitionID]End{}
	for _, p := range parts {
		if e, ok := f.ends[p]; ok {
			out[p] = e
		}
	}
	return out, nil
}

var topicA, topicB = [16]byte{1}, [16]byte{2}

// scrape returns the exporter's series, one "name value" line each.
func scrape(e *Exporter) string {
	var b bytes.Buffer
	e.set.WritePrometheus(&b)
	return b.String()
}

func TestUpdateExportsLagPerGroupAndPartition(t *testing.T) {
	src := &fakeSource{
		pos: []Position{
			{Group: "billing", TopicID: topicA, Partition: 0, Committed: 40},
			{Group: "billing", TopicID: topicA, Partition: 1, Committed: 10},
			{Group: `odd"group\`, TopicID: topicB, Partition: 0, Committed: 7},
			{Group: "ahead", TopicID: topicB, Partition: 0, Committed: 9}, // committed past the end: 0
			{Group: "gone", TopicID: [16]byte{9}, Partition: 0, Committed: 1},
		},
		ends: map[PartitionID]End{
			{topicA, 0}: {"orders", 100}, {topicA, 1}: {"orders", 10}, {topicB, 0}: {"payments", 8},
		},
	}
	e := New(Config{Interval: time.Second, MaxPartitions: 100}, src, nil)
	if err := e.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := scrape(e)
	for _, want := range []string{
		`kafscale_consumer_group_lag{group="billing",topic="orders",partition="0"} 60`,
		`kafscale_consumer_group_lag{group="billing",topic="orders",partition="1"} 0`,
		`kafscale_consumer_group_lag{group="odd\"group\\",topic="payments",partition="0"} 1`,
		`kafscale_consumer_group_lag{group="ahead",topic="payments",partition="0"} 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, `group="gone"`) {
		t.Errorf("a partition without a known end is exported:\n%s", got)
	}
	if v := unknownPartitions.Get(); v != 1 {
		t.Errorf("unknown partitions = %v, want 1", v)
	}

	// The group goes away: its series do too.
	src.pos = src.pos[2:]
	if err := e.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := scrape(e); strings.Contains(got, `group="billing"`) {
		t.Errorf("a deleted group's series stay:\n%s", got)
	}
}

func TestUpdateKeepsWholeGroupsWithinTheLimit(t *testing.T) {
	ends := map[PartitionID]End{}
	var pos []Position
	add := func(group string, n int) {
		for p := range n {
			pos = append(pos, Position{Group: group, TopicID: topicA, Partition: int32(p), Committed: 0})
			ends[PartitionID{topicA, int32(p)}] = End{"t", 5}
		}
	}
	add("a", 2)
	add("b", 3) // does not fit after a
	add("c", 1) // fits after b was left out
	e := New(Config{Interval: time.Second, MaxPartitions: 4}, &fakeSource{pos: pos, ends: ends}, nil)
	if err := e.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := scrape(e)
	if n := strings.Count(got, `group="a"`); n != 2 {
		t.Errorf("group a: %d series, want 2:\n%s", n, got)
	}
	if strings.Contains(got, `group="b"`) {
		t.Errorf("group b exported in part:\n%s", got)
	}
	if n := strings.Count(got, `group="c"`); n != 1 {
		t.Errorf("group c: %d series, want 1:\n%s", n, got)
	}
	if v := droppedPartitions.Get(); v != 3 {
		t.Errorf("dropped partitions = %v, want 3", v)
	}
	if v := exportedPartitions.Get(); v != 3 {
		t.Errorf("exported partitions = %v, want 3", v)
	}
}

func TestUpdateFailsWhenOffsetsCannotBeRead(t *testing.T) {
	e := New(DefaultConfig(), &fakeSource{err: errors.New("etcd down")}, nil)
	if err := e.Update(context.Background()); err == nil || !strings.Contains(err.Error(), "etcd down") {
		t.Fatalf("Update = %v, want the source's error", err)
	}
}

func TestConfigValidateNamesTheFlag(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		flag string
	}{
		{Config{Interval: 0, MaxPartitions: 1}, "--lag-interval"},
		{Config{Interval: time.Second, MaxPartitions: -1}, "--lag-max-partitions"},
	} {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.flag) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tt.cfg, err, tt.flag)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
