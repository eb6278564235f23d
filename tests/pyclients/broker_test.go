package pyclients

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// adminTimeout bounds one admin request of the Go side.
const adminTimeout = 15 * time.Second

var nameSeq atomic.Int64

// uniqueName returns a topic or group name no other test in this run uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("pyclients-%s-%d-%d", prefix, time.Now().UnixNano(), nameSeq.Add(1))
}

// newAdmin returns a franz-go admin client for addr, closed when the test ends.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("cannot create a client for %s: %v", addr, err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates topic with partitions partitions.
func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	kafkatest.CreateTopic(t, addr, topic, partitions)
}

// endOffsets returns the high watermark of each partition of topic.
func endOffsets(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("cannot list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = fmt.Errorf("cannot list end offset of %s-%d: %w", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	return out
}

// committedOffsets returns the group's committed offset of each partition of topic that
// has one.
func committedOffsets(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("cannot fetch the committed offsets of group %s: %v", group, err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("cannot fetch the committed offsets of group %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.At >= 0 {
			out[p] = o.At
		}
	}
	return out
}

// startBroker starts a `kafscale dev` with extra flags for the test, stopped when it ends.
func startBroker(t *testing.T, args ...string) *testbroker.Process {
	t.Helper()
	return testbroker.Start(t, args...)
}

// checkProducers checks what DescribeProducers shows on each partition of topic after one
// client produced counts[p] records there: with idempotent, one producer id, the same on
// every partition, whose last sequence is counts[p]-1; without, no producer at all.
func checkProducers(t *testing.T, adm *kadm.Client, topic string, counts map[int32]int, idempotent bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	set := kadm.TopicsSet{}
	for p := range counts {
		set.Add(topic, p)
	}
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		t.Fatalf("cannot describe the producers of %s: %v", topic, err)
	}
	id := int64(-1)
	for p, want := range counts {
		dp, ok := described[topic].Partitions[p]
		switch {
		case !ok:
			t.Fatalf("DescribeProducers does not answer for partition %d", p)
		case dp.Err != nil:
			t.Fatalf("cannot describe the producers of partition %d: %v", p, dp.Err)
		case !idempotent:
			if len(dp.ActiveProducers) != 0 {
				t.Fatalf("partition %d lists producers %+v, want none from a producer without idempotence", p, dp.ActiveProducers)
			}
			continue
		case len(dp.ActiveProducers) != 1:
			t.Fatalf("partition %d lists %d producers (%+v), want the one idempotent producer", p, len(dp.ActiveProducers), dp.ActiveProducers)
		}
		for _, ap := range dp.ActiveProducers {
			if id >= 0 && ap.ProducerID != id {
				t.Fatalf("partition %d shows producer id %d, another partition %d; one producer wrote both", p, ap.ProducerID, id)
			}
			id = ap.ProducerID
			if ap.LastSequence != int32(want-1) {
				t.Fatalf("partition %d: producer %d's last sequence is %d, want %d after %d records", p, ap.ProducerID, ap.LastSequence, want-1, want)
			}
		}
	}
}
