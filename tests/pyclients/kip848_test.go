package pyclients

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// kip848Result is what python/confluent_kip848.py prints.
type kip848Result struct {
	Split     map[string][]int32     `json:"split"` // member ("a", "b") -> partitions held
	Alone     []int32                `json:"alone"` // what "a" holds after "b" left
	Consumed1 map[string][]jobRecord `json:"consumed1"`
	Consumed2 []jobRecord            `json:"consumed2"`
	Delivered []*delivery            `json:"delivered"`
}

// TestConfluentKafkaConsumerProtocolSplitsAndTakesOver runs confluent-kafka with
// group.protocol=consumer (KIP-848, the broker assigns): two members of one group must
// split a 4-partition topic evenly and each read exactly its partitions' records; after
// one leaves, the other must hold all four and resume the leaver's partitions at the
// offsets the leaver committed. The broker heartbeats every 500 ms instead of 5 s so that
// the reconciliation takes a second, not ten.
func TestConfluentKafkaConsumerProtocolSplitsAndTakesOver(t *testing.T) {
	const (
		partitions = 4
		n          = 160 // two batches of 80, 20 records per partition each
	)
	python := venvPython(t)
	b := startBroker(t, "--group-consumer-heartbeat-interval=500ms")
	topic, group := uniqueName("kip848"), uniqueName("kip848-group")
	createTopic(t, b.Addr, topic, partitions)
	adm := newAdmin(t, b.Addr)
	want := makeRecords("kip848", n, partitions)

	var res kip848Result
	runScript(t, python, "confluent_kip848.py", job{
		Mode: "kip848", Bootstrap: b.Addr, Topic: topic, Group: group, Partitions: partitions,
		Records: want[:n/2], More: want[n/2:],
	}, &res)
	checkDelivered(t, res.Delivered, want)
	wantBy := byPartition(want)

	all := []int32{0, 1, 2, 3}
	ha, hb := res.Split["a"], res.Split["b"]
	if len(ha) != partitions/2 || len(hb) != partitions/2 || !slices.Equal(slices.Sorted(slices.Values(append(slices.Clone(ha), hb...))), all) {
		t.Fatalf("the two members hold %v and %v, want an even split of %v", ha, hb, all)
	}
	half := int64(n / 2 / partitions) // records per partition in the first batch
	for _, m := range []string{"a", "b"} {
		got := byPartition(res.Consumed1[m])
		if held := slices.Sorted(maps.Keys(got)); !slices.Equal(held, res.Split[m]) {
			t.Fatalf("member %s read the first batch from partitions %v, want those it holds, %v", m, held, res.Split[m])
		}
		for p, rs := range got {
			if int64(len(rs)) != half {
				t.Fatalf("member %s read %d records of partition %d in the first batch, want %d", m, len(rs), p, half)
			}
			checkRun(t, "member "+m+", first batch", p, rs, wantBy[p], 0)
		}
	}

	if !slices.Equal(res.Alone, all) {
		t.Fatalf("after member b left, member a holds %v, want %v", res.Alone, all)
	}
	got := byPartition(res.Consumed2)
	for p := range int32(partitions) {
		// On b's former partitions, a starts where b committed: the first batch's end.
		if int64(len(got[p])) != half {
			t.Fatalf("member a read %d records of partition %d in the second batch, want %d", len(got[p]), p, half)
		}
		checkRun(t, "member a, second batch", p, got[p], wantBy[p], half)
	}
	checkConsumerGroup(t, adm, group)
	counts := map[int32]int{}
	for p, rs := range wantBy {
		counts[p] = len(rs)
	}
	checkProducers(t, adm, topic, counts, true)
	ends := endOffsets(t, adm, topic)
	if stored := committedOffsets(t, adm, group, topic); !maps.Equal(stored, ends) {
		t.Fatalf("the group's committed offsets are %v, want the end offsets %v", stored, ends)
	}
}

// checkConsumerGroup checks that the broker knows group as a KIP-848 consumer group, not a
// classic one: ConsumerGroupDescribe answers GROUP_ID_NOT_FOUND for a classic group.
func checkConsumerGroup(t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	described, err := adm.DescribeConsumerGroups(ctx, group)
	if err != nil {
		t.Fatalf("cannot describe consumer group %s: %v", group, err)
	}
	g, ok := described[group]
	switch {
	case !ok:
		t.Fatalf("ConsumerGroupDescribe of %s does not answer for it", group)
	case g.Err != nil:
		t.Fatalf("ConsumerGroupDescribe of %s: %v; the members did not use group.protocol=consumer", group, g.Err)
	}
	t.Logf("group %s: state %s, assignor %s, epoch %d", group, g.State, g.AssignorName, g.Epoch)
}
