package meta

import (
	"fmt"
	"slices"
	"testing"
)

func TestEscapeGroupRoundTripsAndKeepsGroupsApart(t *testing.T) {
	for _, tc := range []struct{ group, escaped string }{
		{"orders-app_1.v2", "orders-app_1.v2"},
		{"a/b", "a%2Fb"},
		{"50%", "50%25"},
		{"spaces and ü", "spaces%20and%20%C3%BC"},
		{"\x00", "%00"},
	} {
		if got := EscapeGroup(tc.group); got != tc.escaped {
			t.Errorf("EscapeGroup(%q) = %q, want %q", tc.group, got, tc.escaped)
		}
		back, err := UnescapeGroup(tc.escaped)
		if err != nil || back != tc.group {
			t.Errorf("UnescapeGroup(%q) = %q, %v; want %q", tc.escaped, back, err, tc.group)
		}
	}
	for _, bad := range []string{"%", "%2", "%zz"} {
		if _, err := UnescapeGroup(bad); err == nil {
			t.Errorf("UnescapeGroup(%q) accepted a bad escape", bad)
		}
	}
	k := NewKeys("")
	if a, ab := k.GroupPrefix("a"), k.GroupPrefix("a/b"); len(ab) >= len(a) && ab[:len(a)] == a {
		t.Errorf("group a's prefix %q is a prefix of group a/b's %q", a, ab)
	}
}

func TestGroupOffsetKeyLayout(t *testing.T) {
	k := NewKeys("")
	pk := PartitionKey{TopicID: testTopicID, Partition: 7}
	key := k.GroupOffset("my/group", pk)
	if want := "/kafscale/groups/my%2Fgroup/offsets/deadbeef0102030405060708090a0b0c/7"; key != want {
		t.Fatalf("GroupOffset = %q, want %q", key, want)
	}
	g, got, err := k.ParseGroupOffset(key)
	if err != nil || g != "my/group" || got != pk {
		t.Fatalf("ParseGroupOffset = %q, %v, %v", g, got, err)
	}
	for _, bad := range []string{"/kafscale/groups/g", "/kafscale/groups/g/offsets/xx/1", "/kafscale/groups/g/other/" + "deadbeef0102030405060708090a0b0c/1"} {
		if _, _, err := k.ParseGroupOffset(bad); err == nil {
			t.Errorf("ParseGroupOffset(%q) accepted a bad key", bad)
		}
	}
}

func TestCommitOffsetsIsOneTransactionAndFetchOneRead(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	c := countKV(s)
	var offs []GroupOffset
	for p := range int32(12) {
		offs = append(offs, GroupOffset{Partition: PartitionKey{testTopicID, p}, Offset: int64(100 + p), LeaderEpoch: 3, Metadata: "m", CommitUnixMs: 1000})
	}
	if err := s.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	txns := c.reset()
	if len(txns) != 1 || txns[0].Thens != 12 || txns[0].Cmps != 0 {
		t.Fatalf("commit of 12 offsets ran %+v, want one transaction of 12 puts", txns)
	}
	got, err := s.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, offs) {
		t.Fatalf("FetchOffsets = %+v, want %+v (in partition order)", got, offs)
	}
	// A later commit of one partition replaces only it.
	if err := s.CommitOffsets(ctx, "g", []GroupOffset{{Partition: PartitionKey{testTopicID, 3}, Offset: 7, LeaderEpoch: -1}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.FetchOffsets(ctx, "g")
	if len(got) != 12 || got[3].Offset != 7 || got[3].LeaderEpoch != -1 || got[3].Metadata != "" || got[4].Offset != 104 {
		t.Fatalf("after recommitting partition 3: %+v", got)
	}
}

func TestCommitOffsetsSplitsHugeCommits(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	c := countKV(s)
	var offs []GroupOffset
	for p := range int32(250) {
		offs = append(offs, GroupOffset{Partition: PartitionKey{testTopicID, p}, Offset: int64(p)})
	}
	if err := s.CommitOffsets(ctx, "big", offs); err != nil {
		t.Fatal(err)
	}
	var puts []int
	for _, tx := range c.reset() {
		puts = append(puts, tx.Thens)
	}
	if fmt.Sprint(puts) != "[100 100 50]" {
		t.Fatalf("commit of 250 offsets ran transactions of %v puts, want [100 100 50]", puts)
	}
	got, err := s.FetchOffsets(ctx, "big")
	if err != nil || len(got) != 250 || got[249].Offset != 249 {
		t.Fatalf("FetchOffsets = %d offsets, %v", len(got), err)
	}
}

func TestGroupsAreKeptApart(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	for _, g := range []string{"a", "a/b", "ab", "a%"} {
		if err := s.CommitOffsets(ctx, g, []GroupOffset{{Partition: PartitionKey{testTopicID, 0}, Offset: int64(len(g))}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.FetchOffsets(ctx, "a")
	if err != nil || len(got) != 1 || got[0].Offset != 1 {
		t.Fatalf("FetchOffsets(a) = %+v, %v; want only a's offset", got, err)
	}
	if n, err := s.DeleteGroup(ctx, "a"); err != nil || n != 1 {
		t.Fatalf("DeleteGroup(a) = %d, %v; want 1 key deleted", n, err)
	}
	groups, err := s.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(groups)
	if fmt.Sprint(groups) != "[a% a/b ab]" {
		t.Fatalf("ListGroups = %q", groups)
	}
	for g, want := range map[string]bool{"a": false, "ab": true, "missing": false} {
		if ok, err := s.GroupExists(ctx, g); err != nil || ok != want {
			t.Errorf("GroupExists(%q) = %v, %v; want %v", g, ok, err, want)
		}
	}
}

func TestListGroupsPagesAndSkipsLargeGroups(t *testing.T) {
	s := newTestStore(t)
	s.pageSize = 3
	ctx := testCtx(t)
	var want []string
	for i := range 7 {
		g := fmt.Sprintf("g%d", i)
		want = append(want, g)
		var offs []GroupOffset
		for p := range int32(i + 1) {
			offs = append(offs, GroupOffset{Partition: PartitionKey{testTopicID, p}})
		}
		if err := s.CommitOffsets(ctx, g, offs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListGroups(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ListGroups = %q, %v; want %q", got, err, want)
	}
}

func TestDeleteOffsetsRemovesOnlyThosePartitions(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	other := [16]byte{1}
	offs := []GroupOffset{
		{Partition: PartitionKey{testTopicID, 0}, Offset: 1},
		{Partition: PartitionKey{testTopicID, 1}, Offset: 2},
		{Partition: PartitionKey{other, 0}, Offset: 3},
	}
	if err := s.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOffsets(ctx, "g", []PartitionKey{{testTopicID, 1}, {other, 0}, {other, 9}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FetchOffsets(ctx, "g")
	if err != nil || len(got) != 1 || got[0].Partition != (PartitionKey{testTopicID, 0}) {
		t.Fatalf("after DeleteOffsets: %+v, %v", got, err)
	}
}

// TestCommitOffsetsNamingAPartitionTwiceKeepsTheLast guards against etcd refusing the
// whole commit ("duplicate key given in txn request"), which answered
// COORDINATOR_NOT_AVAILABLE for every partition of an OffsetCommit naming one twice.
// Kafka commits each and the last one wins; a delete naming one twice deletes it.
func TestCommitOffsetsNamingAPartitionTwiceKeepsTheLast(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	p0, p1 := PartitionKey{testTopicID, 0}, PartitionKey{testTopicID, 1}
	offs := []GroupOffset{
		{Partition: p0, Offset: 1, LeaderEpoch: -1, Metadata: "first"},
		{Partition: p1, Offset: 5, LeaderEpoch: -1},
		{Partition: p0, Offset: 2, LeaderEpoch: -1, Metadata: "second"},
	}
	if err := s.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatalf("commit naming partition 0 twice: %v", err)
	}
	got, err := s.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if want := []GroupOffset{offs[2], offs[1]}; !slices.Equal(got, want) {
		t.Fatalf("FetchOffsets = %+v, want %+v", got, want)
	}
	if err := s.DeleteOffsets(ctx, "g", []PartitionKey{p0, p0}); err != nil {
		t.Fatalf("delete naming partition 0 twice: %v", err)
	}
	got, _ = s.FetchOffsets(ctx, "g")
	if want := []GroupOffset{offs[1]}; !slices.Equal(got, want) {
		t.Fatalf("FetchOffsets after the delete = %+v, want %+v", got, want)
	}
}
