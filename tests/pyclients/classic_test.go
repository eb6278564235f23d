package pyclients

import (
	"maps"
	"testing"
)

// TestClientsProduceAndConsumeInAGroup runs each client through what an application does:
// produce records with keys and headers (acks=all; confluent-kafka idempotent, kafka-python
// idempotent by default), then consume them in a classic group, committing by hand, in two
// runs of a fresh consumer process. It checks that every record lands at the offset the
// producer reported, that DescribeProducers shows the idempotent producer (or none), that the first run's commit is what the broker stores, that the
// second run resumes exactly at the committed offsets, that together the runs read every
// record once with its key, value, headers and timestamp in partition order, and that the
// group ends committed at the end offsets.
func TestClientsProduceAndConsumeInAGroup(t *testing.T) {
	python := venvPython(t)
	b := startBroker(t)
	for _, c := range []struct {
		name, script string
		idempotent   bool // what the client's configuration makes the producer
	}{
		{"confluent-kafka", "confluent_group.py", true}, // enable.idempotence=true
		{"kafka-python", "kafka_python_group.py", true}, // its default (KIP-679)
		{"aiokafka", "aiokafka_group.py", false},        // its default
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, python, c.script, b.Addr, c.idempotent)
		})
	}
}

func roundTrip(t *testing.T, python, script, addr string, idempotent bool) {
	const (
		partitions = 3
		n          = 150
		firstRun   = 2 * n / 5 // not a multiple of partitions: the first run stops mid-partition
	)
	topic, group := uniqueName("topic"), uniqueName("group")
	createTopic(t, addr, topic, partitions)
	adm := newAdmin(t, addr)
	want := makeRecords(script, n, partitions)

	var prod result
	runScript(t, python, script, job{Mode: "produce", Bootstrap: addr, Topic: topic, Records: want}, &prod)
	checkDelivered(t, prod.Delivered, want)
	wantBy := byPartition(want)
	ends := endOffsets(t, adm, topic)
	counts := map[int32]int{}
	for p := range int32(partitions) {
		counts[p] = len(wantBy[p])
		if ends[p] != int64(counts[p]) {
			t.Fatalf("partition %d ends at %d after the produce, want %d", p, ends[p], counts[p])
		}
	}
	checkProducers(t, adm, topic, counts, idempotent)

	consume := func(count int) result {
		t.Helper()
		var res result
		runScript(t, python, script, job{Mode: "consume", Bootstrap: addr, Topic: topic, Group: group, Count: count}, &res)
		if len(res.Consumed) != count {
			t.Fatalf("the consumer read %d records, want %d", len(res.Consumed), count)
		}
		return res
	}

	// First run: part of the topic, then a commit.
	first := consume(firstRun)
	next := map[int32]int64{} // the offset the second run must resume at
	for p, rs := range byPartition(first.Consumed) {
		checkRun(t, "first run", p, rs, wantBy[p], 0)
		next[p] = int64(len(rs))
	}
	t.Logf("the first run read up to %v (end offsets %v)", next, ends)
	stored := committedOffsets(t, adm, group, topic)
	for p := range int32(partitions) {
		got, ok := stored[p]
		if !ok && next[p] == 0 {
			continue // nothing read there: no commit is as good as offset 0
		}
		if got != next[p] {
			t.Fatalf("after the first run the group's committed offset of partition %d is %d (present: %v), want %d, one past the last record read; all: %v",
				p, got, ok, next[p], stored)
		}
	}
	for _, c := range first.Committed {
		if got, ok := stored[c.Partition]; !ok || got != c.Offset {
			t.Errorf("the client reports committed offset %d on partition %d, the broker stores %d (present: %v)", c.Offset, c.Partition, got, ok)
		}
	}

	// Second run, a new process in the same group: the rest, from the committed offsets.
	second := consume(n - firstRun)
	for p, rs := range byPartition(second.Consumed) {
		checkRun(t, "second run", p, rs, wantBy[p], next[p])
	}
	if got := committedOffsets(t, adm, group, topic); !maps.Equal(got, ends) {
		t.Fatalf("after the second run the group's committed offsets are %v, want the end offsets %v", got, ends)
	}
}

// checkRun checks that one run read partition p's records want[from:from+len(got)], in
// order.
func checkRun(t *testing.T, run string, p int32, got, want []jobRecord, from int64) {
	t.Helper()
	if len(got) > 0 && got[0].Offset != from {
		t.Fatalf("%s started partition %d at offset %d, want %d (the committed offset)", run, p, got[0].Offset, from)
	}
	if int(from)+len(got) > len(want) {
		t.Fatalf("%s read %d records of partition %d from offset %d, which holds %d", run, len(got), p, from, len(want))
	}
	for i, r := range got {
		if d := sameRecord(r, want[int(from)+i]); d != "" {
			t.Fatalf("%s: record %d read from partition %d %s", run, i, p, d)
		}
	}
}

// checkDelivered checks that the producer reported every record of want delivered to its
// partition at its offset.
func checkDelivered(t *testing.T, got []*delivery, want []jobRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d delivery reports, want %d", len(got), len(want))
	}
	for i, d := range got {
		switch {
		case d == nil:
			t.Fatalf("record %d: no delivery report", i)
		case d.Error != nil:
			t.Fatalf("record %d: delivery failed: %s", i, *d.Error)
		case d.Partition != want[i].Partition || d.Offset != want[i].Offset:
			t.Fatalf("record %d delivered to partition %d offset %d, want partition %d offset %d",
				i, d.Partition, d.Offset, want[i].Partition, want[i].Offset)
		}
	}
}
