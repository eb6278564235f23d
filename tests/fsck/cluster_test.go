package fsck

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafscale/kafscale/bucketmeta"
	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/meta"
)

// TestRebuildOfATwoBrokerCluster: partitions led by two brokers are assigned by the
// rebuild to the broker that last wrote each (the controller of the restarted cluster may
// move them, as it moves those of a broker that starts late), both brokers started on the
// rebuilt etcd serve every acknowledged record, and the group's offsets are restored
// whichever broker coordinated it.
func TestRebuildOfATwoBrokerCluster(t *testing.T) {
	const topic, partitions, group = "spread", 4, "spread-readers"
	s := startStores(t)
	b0 := testbroker.StartBroker(t, s.etcd.Endpoints(), s.s3, append([]string{"--broker-id", "0"}, brokerArgs...)...)
	b1 := testbroker.StartBroker(t, s.etcd.Endpoints(), s.s3, append([]string{"--broker-id", "1"}, brokerArgs...)...)
	ctx := context.Background()
	adm := admin(t, b0.Addr)
	kafkatest.WaitUntil(t, 30*time.Second, "two brokers in the metadata", func() error {
		bs, err := adm.ListBrokers(ctx)
		if err == nil && len(bs) != 2 {
			err = fmt.Errorf("%d brokers", len(bs))
		}
		return err
	})
	kafkatest.CreateTopic(t, b0.Addr, topic, partitions)
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewIdempotentProducer(t, b0.Addr), ledger, topic, partitions, "v", 400)
	committed := kadm.Offsets{}
	for p := range int32(partitions) {
		committed.AddOffset(topic, p, int64(10+p), -1)
	}
	if resp, err := adm.CommitOffsets(ctx, group, committed); err != nil || resp.Error() != nil {
		t.Fatalf("cannot commit offsets: %v %v", err, resp.Error())
	}
	kafkatest.WaitUntil(t, 30*time.Second, "the group's offsets in the bucket", func() error {
		groups, err := bucketmeta.ReadGroups(ctx, s.st, nil)
		if err == nil && len(groups[group]) != partitions {
			err = fmt.Errorf("snapshot holds %d offsets", len(groups[group]))
		}
		return err
	})
	before := leaders(t, adm, topic)
	if n := distinct(before); n != 2 {
		t.Fatalf("the topic's leaders %v are %d brokers, want 2", before, n)
	}
	b0.Kill()
	b1.Kill()

	fresh := testinfra.StartEtcd(t)
	if r := runFsck(t, s, fresh.Endpoints(), "--rebuild", "--json"); r.code != 0 {
		t.Fatalf("rebuild: exit %d, problems %+v\n%s%s", r.code, r.report.Problems, r.stdout, r.stderr)
	}
	cli, err := meta.NewClient(fresh.Endpoints(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ms := meta.New(cli, meta.DefaultConfig(), nil)
	assigned := map[int32]int32{}
	for _, b := range []int32{0, 1} {
		a, _, err := ms.GetAssignment(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range a.GetPartitions() {
			assigned[ref.Partition] = b
		}
	}
	for p, l := range before {
		if assigned[p] != l {
			t.Fatalf("the rebuild assigned %v, want the last leaders %v", assigned, before)
		}
	}
	n0 := testbroker.StartBroker(t, fresh.Endpoints(), s.s3, append([]string{"--broker-id", "0"}, brokerArgs...)...)
	n1 := testbroker.StartBroker(t, fresh.Endpoints(), s.s3, append([]string{"--broker-id", "1"}, brokerArgs...)...)
	adm2 := admin(t, n0.Addr)
	// The broker started first leads the other's partitions until the controller balances
	// them back (two each, by count: with no load, nothing moves after that).
	kafkatest.WaitUntil(t, 60*time.Second, "the partitions balanced over the two brokers, each served", func() error {
		ls := leaders(t, adm2, topic)
		count := map[int32]int{}
		for _, l := range ls {
			count[l]++
		}
		if len(ls) != partitions || count[0] != partitions/2 || count[1] != partitions/2 {
			return fmt.Errorf("leaders %v", ls)
		}
		ends, err := adm2.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		return err
	})
	if err := ledger.Verify(kafkatest.ReadAll(t, n1.Addr, topic, partitions)); err != nil {
		t.Fatalf("after the rebuild: %v", err)
	}
	fetched, err := adm2.FetchOffsets(ctx, group)
	if err != nil || fetched.Error() != nil {
		t.Fatalf("cannot fetch the group's offsets: %v %v", err, fetched.Error())
	}
	for p := range int32(partitions) {
		want, _ := committed.Lookup(topic, p)
		if got, ok := fetched.Lookup(topic, p); !ok || got.At != want.At {
			t.Errorf("partition %d: committed offset %d after the rebuild, want %d", p, got.At, want.At)
		}
	}
}

// leaders returns each partition's leader from Metadata.
func leaders(t *testing.T, adm *kadm.Client, topic string) map[int32]int32 {
	t.Helper()
	md, err := adm.Metadata(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int32{}
	for p, pd := range md.Topics[topic].Partitions {
		out[p] = pd.Leader
	}
	return out
}

func distinct(m map[int32]int32) int {
	seen := map[int32]bool{}
	for _, v := range m {
		seen[v] = true
	}
	return len(seen)
}
