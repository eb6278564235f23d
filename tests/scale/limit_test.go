package scale

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// limitPartitions is --max-partitions in TestPartitionLimit: large enough that the cost per
// partition dominates the broker's RSS growth, small enough for CI (~20 s on two cores).
const limitPartitions = 3000

// TestPartitionLimit guards issue 19 finding 6: a fuzzer creating topics drove the broker
// to 1.4 GiB RSS at ~10,700 partitions, over its soft memory limit, since nothing bounded
// the partition count and embedded etcd kept 5,000 old requests in memory, each rewriting
// the broker's assignment of every partition. A broker filled up to --max-partitions,
// mostly with single-partition topics (the worst case for etcd, one assignment rewrite per
// partition), and written to once per partition, grows its anonymous RSS by at most
// broker.PartitionMemoryBytes per partition, the figure its derived memory limit budgets;
// every way of creating one partition more answers POLICY_VIOLATION, and deleting a topic
// makes room again. The bound leaves out the file pages of embedded etcd's database,
// which the kernel may drop and which grow with etcd's history until it is compacted
// (docs/operations.md, "Partitions and memory"); before the fix the anonymous part alone
// was ~60 KiB per partition.
func TestPartitionLimit(t *testing.T) {
	ctx := t.Context()
	b := testbroker.StartPlain(t, "--max-partitions", strconv.Itoa(limitPartitions))
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	empty := settledMemory(t, ctx, b)

	counts := make([]int32, 0, limitPartitions)
	for range limitPartitions - 500 {
		counts = append(counts, 1)
	}
	counts = append(counts, 500)
	if err := createTopics(ctx, adm, "l", counts); err != nil {
		t.Fatalf("cannot create %d partitions within --max-partitions %d: %v", sum(counts), limitPartitions, err)
	}
	if err := produceOneEach(ctx, b.Addr, "l", counts); err != nil {
		t.Fatalf("cannot produce to every partition: %v", err)
	}
	full := settledMemory(t, ctx, b)
	bound := empty.Anon + limitPartitions*broker.PartitionMemoryBytes
	t.Logf("empty: %s; at %d partitions: %s; %d B anonymous RSS per partition (budget %d)",
		empty, limitPartitions, full, (full.Anon-empty.Anon)/limitPartitions, broker.PartitionMemoryBytes)
	if full.Anon > bound {
		t.Errorf("anonymous RSS at --max-partitions %d is %d MiB, over the budget of %d MiB (empty broker %d MiB + %d KiB per partition)",
			limitPartitions, full.Anon>>20, bound>>20, empty.Anon>>20, broker.PartitionMemoryBytes>>10)
	}

	big := fmt.Sprintf("l-%d", len(counts)-1)
	over := []struct {
		name string
		code func() (int16, error)
	}{
		{"CreateTopics", func() (int16, error) { return createTopicCode(t, cl, "l-over", 1, false) }},
		{"CreateTopics validate only", func() (int16, error) { return createTopicCode(t, cl, "l-over", 1, true) }},
		{"CreatePartitions", func() (int16, error) { return createPartitionsCode(t, cl, big, 501) }},
		{"Metadata auto-create", func() (int16, error) { return autoCreateCode(t, cl, "l-auto") }},
	}
	for _, tc := range over {
		code, err := tc.code()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if code != kerr.PolicyViolation.Code {
			t.Errorf("%s of one partition over --max-partitions answered %v, want POLICY_VIOLATION", tc.name, kerr.ErrorForCode(code))
		}
	}

	if _, err := adm.DeleteTopics(ctx, "l-0"); err != nil {
		t.Fatalf("cannot delete topic l-0: %v", err)
	}
	if code, err := createTopicCode(t, cl, "l-room", 1, false); err != nil || code != 0 {
		t.Errorf("CreateTopics after a deletion made room answered %v (%v), want success", kerr.ErrorForCode(code), err)
	}
}

func createTopicCode(t *testing.T, cl *kgo.Client, name string, partitions int32, validateOnly bool) (int16, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.ValidateOnly = validateOnly
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		return 0, err
	}
	return resp.Topics[0].ErrorCode, nil
}

func createPartitionsCode(t *testing.T, cl *kgo.Client, name string, count int32) (int16, error) {
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = name, count
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		return 0, err
	}
	return resp.Topics[0].ErrorCode, nil
}

func autoCreateCode(t *testing.T, cl *kgo.Client, name string) (int16, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		return 0, err
	}
	return resp.Topics[0].ErrorCode, nil
}
