package meta

import (
	"slices"
	"testing"
)

var testTopicID = [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func TestKeysHaveDocumentedLayout(t *testing.T) {
	k := NewKeys("")
	for _, tc := range []struct{ got, want string }{
		{k.Topic("orders"), "/kafscale/topics/orders"},
		{k.Partition(testTopicID, 7), "/kafscale/partitions/deadbeef0102030405060708090a0b0c/7"},
		{k.Segment(testTopicID, 7, 42), "/kafscale/segments/deadbeef0102030405060708090a0b0c/7/00000000000000000042"},
		{k.Object(3, 1234, 5), "/kafscale/objects/3/1234/00000000000000000005"},
		{k.Fence(3), "/kafscale/fences/3"},
		{k.Assignment(3), "/kafscale/assignments/3"},
		{k.Broker(3), "/kafscale/brokers/3"},
		{k.GroupsPrefix(), "/kafscale/groups/"},
		{NewKeys("/other/").Topic("x"), "/other/topics/x"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestKeysParseWhatTheyBuild(t *testing.T) {
	k := NewKeys("/p")
	pk, err := k.ParsePartition(k.Partition(testTopicID, 9))
	if err != nil || pk != (PartitionKey{testTopicID, 9}) {
		t.Errorf("ParsePartition = %v, %v", pk, err)
	}
	pk, last, err := k.ParseSegment(k.Segment(testTopicID, 9, 1<<40))
	if err != nil || pk != (PartitionKey{testTopicID, 9}) || last != 1<<40 {
		t.Errorf("ParseSegment = %v, %d, %v", pk, last, err)
	}
	b, inc, seq, err := k.ParseObject(k.Object(-1, 1<<50, 1<<63))
	if err != nil || b != -1 || inc != 1<<50 || seq != 1<<63 {
		t.Errorf("ParseObject = %d, %d, %d, %v", b, inc, seq, err)
	}
	name, err := k.ParseTopic(k.Topic("a.b-c_d"))
	if err != nil || name != "a.b-c_d" {
		t.Errorf("ParseTopic = %q, %v", name, err)
	}
	id, err := k.ParseBroker(k.Broker(17))
	if err != nil || id != 17 {
		t.Errorf("ParseBroker = %d, %v", id, err)
	}
	id, err = k.ParseAssignment(k.Assignment(18))
	if err != nil || id != 18 {
		t.Errorf("ParseAssignment = %d, %v", id, err)
	}
}

func TestKeysParseRejectsMalformedKeys(t *testing.T) {
	k := NewKeys("/p")
	for _, key := range []string{
		"/p/partitions/deadbeef/1",                           // short id
		"/p/partitions/zzadbeef0102030405060708090a0b0c/1",   // not hex
		"/p/partitions/deadbeef0102030405060708090a0b0c/x",   // not a number
		"/p/partitions/deadbeef0102030405060708090a0b0c/-1",  // negative
		"/p/partitions/deadbeef0102030405060708090a0b0c/1/2", // extra part
		"/q/partitions/deadbeef0102030405060708090a0b0c/1",   // other prefix
		"/p/segments/deadbeef0102030405060708090a0b0c/1/42",  // not padded
		"/p/objects/1/2/3",                     // seq not padded
		"/p/objects/1/x/00000000000000000003",  // bad incarnation
		"/p/objects/1/2/00000000000000000003/", // trailing slash
		"/p/topics/",                           // empty name
	} {
		_, err1 := k.ParsePartition(key)
		_, _, err2 := k.ParseSegment(key)
		_, _, _, err3 := k.ParseObject(key)
		_, err4 := k.ParseTopic(key)
		if err1 == nil || err2 == nil || err3 == nil || err4 == nil {
			t.Errorf("%q parsed as some key kind: %v %v %v %v", key, err1, err2, err3, err4)
		}
	}
}

// Range reads from a seq or offset rely on lexical order being numeric order.
func TestKeysSortNumerically(t *testing.T) {
	k := NewKeys("")
	seqs := []uint64{0, 1, 9, 10, 99, 100, 1 << 32, 1<<64 - 1}
	var objs, segs []string
	for _, s := range seqs {
		objs = append(objs, k.Object(1, 2, s))
		segs = append(segs, k.Segment(testTopicID, 0, int64(s>>1)))
	}
	if !slices.IsSorted(objs) || !slices.IsSorted(segs) {
		t.Fatalf("keys not in numeric order:\n%v\n%v", objs, segs)
	}
}

func TestNewTopicIDIsKafkaValidUUIDv4(t *testing.T) {
	seen := map[[16]byte]bool{}
	for range 1000 {
		id := NewTopicID()
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("%x is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %x", id)
		}
		seen[id] = true
	}
}
