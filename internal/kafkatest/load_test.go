package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafscale/kafscale/internal/ackcheck"
)

// TestLoaderAcksReadBack runs two loaders with distinct prefixes on one topic and checks
// that what each acknowledged reads back, and that no value collides.
func TestLoaderAcksReadBack(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	const topic, partitions = "load", 3
	CreateTopic(t, addr, topic, partitions)
	a := StartLoader(t, []string{addr}, topic, partitions, LoadOpts{Prefix: "a", Rate: 2000})
	b := StartLoader(t, []string{addr}, topic, partitions, LoadOpts{Prefix: "b", Idempotent: true})
	a.WaitAcks(t, 100, 30*time.Second)
	b.WaitAcks(t, 100, 30*time.Second)
	a.Finish(t)
	b.Finish(t)
	if a.Failed()+b.Failed() != 0 || int64(a.Ledger.Len()) != a.Sent() || int64(b.Ledger.Len()) != b.Sent() {
		t.Fatalf("a: %d sent, %d acked, %d failed; b: %d sent, %d acked, %d failed; errors %v %v",
			a.Sent(), a.Ledger.Len(), a.Failed(), b.Sent(), b.Ledger.Len(), b.Failed(), a.Errors(), b.Errors())
	}
	read := ReadAll(t, addr, topic, partitions)
	for _, l := range []*ackcheck.Ledger{a.Ledger, b.Ledger} {
		if err := l.Verify(read); err != nil {
			t.Fatal(err)
		}
	}
	RequireExactlyOnce(t, read)
}

// TestRecordBatchIsAccepted produces a RecordBatch of three values raw and reads them back.
func TestRecordBatchIsAccepted(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	CreateTopic(t, addr, "raw", 1)
	// Produce by topic name, before v13 named topics by id only.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_8_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "raw"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = RecordBatch([]byte("x"), []byte("y"), []byte("z"))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce of a RecordBatch answered error code %d", code)
	}
	read := ReadAll(t, addr, "raw", 1)
	if len(read) != 3 || string(read[0].Value) != "x" || string(read[2].Value) != "z" || read[2].Offset != 2 {
		t.Fatalf("read back %v, want x, y, z at offsets 0-2", read)
	}
}
