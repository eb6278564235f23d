package fsck

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/bucketmeta"
	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/segment"
)

// TestRebuildRestoresAWipedEtcd produces with acks=all (some records merged into segments,
// the last ones only in flush objects), commits a group's offsets, alters a topic config,
// kills the broker, and rebuilds a fresh etcd from the bucket. A broker on the rebuilt etcd
// serves every acknowledged record at its offset, the group resumes from its committed
// offsets, the topic keeps its configs, the idempotent producers' state is restored, and
// new records follow the restored ones.
func TestRebuildRestoresAWipedEtcd(t *testing.T) {
	const topic, partitions, group = "orders", 3, "billing"
	s := startStores(t)
	b := testbroker.StartBroker(t, s.etcd.Endpoints(), s.s3, brokerArgs...)
	adm := admin(t, b.Addr)
	ctx := context.Background()
	retention := "3600000"
	if _, err := adm.CreateTopic(ctx, partitions, 1, map[string]*string{"retention.ms": &retention}, topic); err != nil {
		t.Fatal(err)
	}
	bigger := "2000000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &bigger}}, topic); err != nil {
		t.Fatal(err)
	}
	ledger := ackcheck.NewLedger()
	producer := kafkatest.NewIdempotentProducer(t, b.Addr)
	kafkatest.ProduceSync(t, producer, ledger, topic, partitions, "merged", 600)
	waitForObjects(t, s, segment.SegmentPrefix, partitions)

	committed := kadm.Offsets{}
	for p := range int32(partitions) {
		committed.AddOffset(topic, p, int64(40+10*p), -1)
	}
	if resp, err := adm.CommitOffsets(ctx, group, committed); err != nil || resp.Error() != nil {
		t.Fatalf("cannot commit offsets: %v %v", err, resp.Error())
	}
	kafkatest.WaitUntil(t, 30*time.Second, "the group's offsets in the bucket", func() error {
		groups, err := bucketmeta.ReadGroups(ctx, s.st, nil)
		if err != nil {
			return err
		}
		if n := len(groups[group]); n != partitions {
			return fmt.Errorf("snapshot holds %d offsets", n)
		}
		return nil
	})
	// DeleteRecords moves a log start inside the data, and another past all of it.
	kafkatest.CreateTopic(t, b.Addr, "trimmed", 2)
	kafkatest.ProduceSync(t, producer, ackcheck.NewLedger(), "trimmed", 2, "old", 100)
	trim := kadm.Offsets{}
	trim.AddOffset("trimmed", 0, 20, -1)
	trim.AddOffset("trimmed", 1, 50, -1)
	if resp, err := adm.DeleteRecords(ctx, trim); err != nil || resp.Error() != nil {
		t.Fatalf("cannot delete records: %v %v", err, resp.Error())
	}
	kafkatest.WaitUntil(t, 30*time.Second, "the log starts in the bucket", func() error {
		starts, err := bucketmeta.ReadLogStarts(ctx, s.st, nil)
		if err != nil {
			return err
		}
		if len(starts) != 2 {
			return fmt.Errorf("%d log starts copied", len(starts))
		}
		return nil
	})
	kafkatest.ProduceSync(t, producer, ledger, topic, partitions, "tail", 300)
	before := producersOf(t, adm, topic)
	ends := endOffsets(t, b.Addr, topic, partitions)
	b.Kill()

	fresh := testinfra.StartEtcd(t)
	r := runFsck(t, s, fresh.Endpoints(), "--rebuild", "--json")
	if r.code != 0 || !r.report.Healthy() {
		t.Fatalf("rebuild: exit %d, problems %+v\n%s%s", r.code, r.report.Problems, r.stdout, r.stderr)
	}
	if r.report.Topics != 2 || r.report.Partitions != partitions+2 || r.report.Groups != 1 {
		t.Fatalf("rebuild restored %d topics, %d partitions, %d groups; want 2, %d, 1", r.report.Topics, r.report.Partitions, r.report.Groups, partitions+2)
	}
	t.Logf("rebuild report: %d flush and %d segment objects, notes %+v", r.report.FlushObjects, r.report.SegmentObjects, r.report.Notes)
	again := runFsck(t, s, fresh.Endpoints(), "--rebuild")
	if again.code != 1 {
		t.Fatalf("a second rebuild into the now full etcd exited %d, want 1 (refused)\n%s", again.code, again.stderr)
	}
	if check := runFsck(t, s, fresh.Endpoints(), "--json"); check.code != 0 {
		t.Fatalf("fsck of the rebuilt etcd: exit %d, problems %+v\n%s", check.code, check.report.Problems, check.stderr)
	}

	b2 := testbroker.StartBroker(t, fresh.Endpoints(), s.s3, brokerArgs...)
	if err := ledger.Verify(kafkatest.ReadAll(t, b2.Addr, topic, partitions)); err != nil {
		t.Fatalf("after the rebuild: %v", err)
	}
	adm2 := admin(t, b2.Addr)
	fetched, err := adm2.FetchOffsets(ctx, group)
	if err != nil || fetched.Error() != nil {
		t.Fatalf("cannot fetch the group's offsets: %v %v", err, fetched.Error())
	}
	for p := range int32(partitions) {
		want, _ := committed.Lookup(topic, p)
		got, ok := fetched.Lookup(topic, p)
		if !ok || got.At != want.At {
			t.Errorf("partition %d: committed offset %d after the rebuild, want %d", p, got.At, want.At)
		}
	}
	resumeAt := resumedOffsets(t, b2.Addr, group, topic, partitions)
	for p := range int32(partitions) {
		if want, _ := committed.Lookup(topic, p); resumeAt[p] != want.At {
			t.Errorf("partition %d: the group resumed at %d, want its committed %d", p, resumeAt[p], want.At)
		}
	}
	configs, err := adm2.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"retention.ms": retention, "max.message.bytes": bigger} {
		var got string
		for _, c := range rc.Configs {
			if c.Key == name && c.Value != nil {
				got = *c.Value
			}
		}
		if got != want {
			t.Errorf("%s is %q after the rebuild, want %q", name, got, want)
		}
	}
	starts, err := adm2.ListStartOffsets(ctx, "trimmed")
	if err != nil || starts.Error() != nil {
		t.Fatalf("cannot list start offsets: %v %v", err, starts.Error())
	}
	ends2, err := adm2.ListEndOffsets(ctx, "trimmed")
	if err != nil || ends2.Error() != nil {
		t.Fatalf("cannot list end offsets: %v %v", err, ends2.Error())
	}
	for p, want := range map[int32][2]int64{0: {20, 50}, 1: {50, 50}} {
		s, _ := starts.Lookup("trimmed", p)
		e, _ := ends2.Lookup("trimmed", p)
		if s.Offset != want[0] || e.Offset != want[1] {
			t.Errorf("trimmed-%d: log %d-%d after the rebuild, want %d-%d (DeleteRecords kept)", p, s.Offset, e.Offset, want[0], want[1])
		}
	}
	after := producersOf(t, adm2, topic)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("producer state %s: %q after the rebuild, want %q", k, after[k], v)
		}
	}
	// New records follow the restored ones, from the same producer.
	producer2 := kafkatest.NewIdempotentProducer(t, b2.Addr)
	more := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, producer2, more, topic, partitions, "after", 30)
	read := kafkatest.ReadAll(t, b2.Addr, topic, partitions)
	if err := more.Verify(read); err != nil {
		t.Fatal(err)
	}
	for _, rec := range read {
		if string(rec.Value[:5]) == "after" && rec.Offset < ends[rec.Partition.Partition] {
			t.Fatalf("a record produced after the rebuild got offset %d of partition %d, below the restored end %d", rec.Offset, rec.Partition.Partition, ends[rec.Partition.Partition])
		}
	}
}

// producersOf describes the idempotent producers of a topic's partitions, as
// "partition/producer id" -> "epoch/last sequence".
func producersOf(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	ds, err := adm.DescribeProducers(context.Background(), kadm.TopicsSet{topic: nil})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ds.EachProducer(func(d kadm.DescribedProducer) {
		out[fmt.Sprintf("%d/%d", d.Partition, d.ProducerID)] = fmt.Sprintf("%d/%d", d.ProducerEpoch, d.LastSequence)
	})
	if len(out) == 0 {
		t.Fatalf("no producer of %s described", topic)
	}
	return out
}

func endOffsets(t *testing.T, addr, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kafkatest.EndOffsets(context.Background(), cl, topic, partitions)
	if err != nil {
		t.Fatal(err)
	}
	return ends
}

// resumedOffsets joins the group and returns the offset of the first record it is given
// on each partition.
func resumedOffsets(t *testing.T, addr, group, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(first) < int(partitions) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("the group read %d of %d partitions: %v", len(first), partitions, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
		})
	}
	return first
}

func admin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
