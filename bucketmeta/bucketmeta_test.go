package bucketmeta

import (
	"context"
	"testing"
	"time"

	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

func localStore(t *testing.T) objstore.Store {
	t.Helper()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestTopicManifestNewestWinsAndOlderAreDeleted: a second PutTopic replaces the first
// (ReadTopics returns it, the older object is gone); DeleteTopic removes it.
func TestTopicManifestNewestWinsAndOlderAreDeleted(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	id := [16]byte{0xab, 1}
	v1 := &metapb.Topic{Id: id[:], Name: "orders", Partitions: 3, Configs: map[string]string{"retention.ms": "1000"}}
	v2 := &metapb.Topic{Id: id[:], Name: "orders", Partitions: 6, Configs: map[string]string{"retention.ms": "2000"}}
	now := time.Now()
	for i, v := range []*metapb.Topic{v1, v2} {
		if err := putTopic(ctx, st, v, now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadTopics(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := got[id]; !ok || !SameTopic(m.Topic, v2) {
		t.Fatalf("ReadTopics = %+v, want the second version", got)
	}
	if objs, _ := st.List(ctx, segment.TopicManifestPrefix); len(objs) != 1 {
		t.Fatalf("%d manifest objects, want 1", len(objs))
	}
	if err := DeleteTopic(ctx, st, id); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadTopics(ctx, st, nil); len(got) != 0 {
		t.Fatalf("ReadTopics after DeleteTopic = %+v", got)
	}
}

// TestGroupSnapshotRoundTrip: offsets written by PutGroup read back equal, for a group id
// that needs escaping.
func TestGroupSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	offs := []meta.GroupOffset{
		{Partition: meta.PartitionKey{TopicID: [16]byte{1}, Partition: 2}, Offset: 42, LeaderEpoch: 3, Metadata: "m", CommitUnixMs: 7},
		{Partition: meta.PartitionKey{TopicID: [16]byte{2}, Partition: 0}, Offset: 0, LeaderEpoch: -1},
	}
	group := "team/a b"
	if err := PutGroup(ctx, st, group, offs); err != nil {
		t.Fatal(err)
	}
	got, err := ReadGroups(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[group]) != 2 || got[group][0] != offs[0] || got[group][1] != offs[1] {
		t.Fatalf("ReadGroups = %+v, want %+v", got, offs)
	}
}

// TestDecodeRejectsForeignBytes: a manifest or snapshot of another format is an error, not
// a guess.
func TestDecodeRejectsForeignBytes(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("KSTM"), []byte("KSTM\x02xx"), []byte("{}")} {
		if _, err := DecodeTopic(b); err == nil {
			t.Errorf("DecodeTopic(%q) accepted", b)
		}
	}
	for _, b := range [][]byte{nil, []byte("{}"), []byte(`{"version":2}`)} {
		if _, _, err := DecodeGroup(b); err == nil {
			t.Errorf("DecodeGroup(%q) accepted", b)
		}
	}
}

// TestLogStartsHighestOfEveryBrokerWins: a partition's log start is the highest any
// broker's newest copy names (an old leader's copy lags), and a broker's older copies go.
func TestLogStartsHighestOfEveryBrokerWins(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	pk := meta.PartitionKey{TopicID: [16]byte{9}, Partition: 1}
	other := meta.PartitionKey{TopicID: [16]byte{9}, Partition: 2}
	if err := PutLogStarts(ctx, st, 0, []LogStart{{Partition: pk, LogStart: 10}, {Partition: other, LogStart: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := PutLogStarts(ctx, st, 1, []LogStart{{Partition: pk, LogStart: 30}}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLogStarts(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[pk] != 30 || got[other] != 5 {
		t.Fatalf("ReadLogStarts = %v, want %v: 30, %v: 5", got, pk, other)
	}
	if err := PutLogStarts(ctx, st, 1, nil); err != nil {
		t.Fatal(err)
	}
	if objs, _ := st.List(ctx, segment.LogStartsPrefix+"1/"); len(objs) != 1 {
		t.Fatalf("broker 1 has %d copies, want 1", len(objs))
	}
}
