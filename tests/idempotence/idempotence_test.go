// Package idempotence tests idempotent producers against a real `kafscale dev` process:
// clients with their default settings work, and retries never store a batch twice — not when
// a produce response is lost, and not across a kill -9 and restart.
package idempotence

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/kproxy"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestFranzGoDefaultsProduceExactlyOnce: franz-go with its default settings (idempotent,
// acks=all) produces; every record is stored once at its acknowledged offset.
func TestFranzGoDefaultsProduceExactlyOnce(t *testing.T) {
	p := testbroker.Start(t)
	const topic, partitions = "idem", 4
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, cl, ledger, topic, partitions, "v", 10000)
	read := kafkatest.ReadAll(t, p.Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	kafkatest.RequireExactlyOnce(t, read)
	if len(read) != 10000 {
		t.Fatalf("read %d records, want 10000", len(read))
	}
}

// TestLostProduceResponseIsNotStoredTwice: a proxy of our own drops produce responses (the
// broker stored the batch, the client never hears so), the client retries the same
// sequence, and the broker answers with the original offsets instead of storing it again.
func TestLostProduceResponseIsNotStoredTwice(t *testing.T) {
	proxyAddr := kafkatest.FreeAddr(t)
	p := testbroker.Start(t, "--advertised-listener", proxyAddr)
	px := kproxy.Start(t, proxyAddr, p.Addr, func(key int16, n int64) bool {
		return key == int16(kmsg.Produce) && (n == 3 || n == 8 || n == 15)
	})
	const topic, partitions = "lost-acks", 2
	kafkatest.CreateTopic(t, px.Addr, topic, partitions)
	cl, err := kgo.NewClient(kgo.SeedBrokers(px.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ledger := ackcheck.NewLedger()
	for round := range 4 {
		kafkatest.ProduceSync(t, cl, ledger, topic, partitions, fmt.Sprintf("r%d", round), 500)
	}
	if px.Dropped() == 0 {
		t.Fatal("the proxy dropped no produce response: the test proves nothing")
	}
	read := kafkatest.ReadAll(t, p.Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	kafkatest.RequireExactlyOnce(t, read)
	if len(read) != 2000 {
		t.Fatalf("read %d records, want 2000 (%d responses dropped)", len(read), px.Dropped())
	}
	t.Logf("%d produce responses dropped, no record stored twice", px.Dropped())
}

// TestKill9WithIdempotentProducerStoresNoDuplicate: the crash test with an idempotent
// producer: after five kill -9s and restarts, every acknowledged record is at its offset and
// no value is stored twice, since producer state is rebuilt from etcd and the objects.
func TestKill9WithIdempotentProducerStoresNoDuplicate(t *testing.T) {
	p := testbroker.Start(t, "--flush-interval", "20ms")
	const topic, partitions = "idem-crash", 3
	kafkatest.CreateTopic(t, p.Addr, topic, partitions)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequestRetries(1000), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ledger := ackcheck.NewLedger()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var seq atomic.Int64
	var produceErr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		sem := make(chan struct{}, 100)
		for ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			i := seq.Add(1)
			r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: fmt.Appendf(nil, "v-%d", i)}
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				<-sem
				if err != nil {
					produceErr.Store(err)
					return
				}
				ledger.Ack(ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Value)
			})
		}
	}()
	for k := range 5 {
		before := ledger.Len()
		deadline := time.Now().Add(20 * time.Second)
		for ledger.Len() < before+200 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // waiting for acks to accumulate between kills
		}
		time.Sleep(time.Duration(37*k%150) * time.Millisecond) // vary the moment of the kill
		p.Kill()
		p.Restart()
	}
	for ledger.Len() < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if err, _ := produceErr.Load().(error); err != nil {
		t.Logf("some records failed (not acknowledged, allowed): %v", err)
	}
	read := kafkatest.ReadAll(t, p.Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	kafkatest.RequireExactlyOnce(t, read)
	t.Logf("%d records acknowledged across 5 kills, none stored twice", ledger.Len())
}

// TestRetryAfterRestartIsRecognised: a batch of an idempotent producer, sent again with the
// same producer id and sequence after the broker restarted (SIGTERM, then kill -9), is
// answered with its original offset and not stored twice; DescribeProducers shows the state.
func TestRetryAfterRestartIsRecognised(t *testing.T) {
	p := testbroker.Start(t)
	kafkatest.CreateTopic(t, p.Addr, "retry", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := connect()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.ProducerID, init.ProducerEpoch = -1, -1
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerId: %v %+v", err, ir)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	produce := func(cl *kgo.Client, seq int32, value string) (int64, int16) {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "retry"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch(pid, epoch, seq, value)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
		pr := resp.Topics[0].Partitions[0]
		return pr.BaseOffset, pr.ErrorCode
	}
	for seq := range int32(3) {
		if off, code := produce(cl, seq, fmt.Sprint("v", seq)); code != 0 || off != int64(seq) {
			t.Fatalf("produce seq %d: offset %d code %d", seq, off, code)
		}
	}
	cl.Close()
	for _, stop := range []string{"SIGTERM", "kill -9"} {
		if stop == "SIGTERM" {
			p.Term(30 * time.Second)
		} else {
			p.Kill()
		}
		p.Restart()
		cl := connect()
		if off, code := produce(cl, 2, "v2"); code != 0 || off != 2 {
			t.Fatalf("after %s: retry of seq 2 got offset %d code %d (%v), want the original offset 2", stop, off, code, kerr.ErrorForCode(code))
		}
		if _, code := produce(cl, 5, "gap"); code != kerr.OutOfOrderSequenceNumber.Code {
			t.Fatalf("after %s: seq 5 after 2 got code %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", stop, code)
		}
		// Appended after the SIGTERM restart, a duplicate of that after the kill -9.
		if off, code := produce(cl, 3, "v3"); code != 0 || off != 3 {
			t.Fatalf("after %s: seq 3 got offset %d code %d, want offset 3", stop, off, code)
		}
		dp := kmsg.NewPtrDescribeProducersRequest()
		dt := kmsg.NewDescribeProducersRequestTopic()
		dt.Topic, dt.Partitions = "retry", []int32{0}
		dp.Topics = append(dp.Topics, dt)
		dr, err := dp.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		ap := dr.Topics[0].Partitions[0].ActiveProducers
		if len(ap) != 1 || ap[0].ProducerID != pid {
			t.Fatalf("after %s: DescribeProducers = %+v, want producer %d", stop, ap, pid)
		}
		cl.Close()
	}

	// After both restarts: a new producer gets an id never handed out before, also when it
	// names its old id and epoch (without a transactional id Kafka hands out a new id and
	// does not bump the epoch: KIP-360's bump is for transactional producers). An idempotent
	// producer bumps its epoch itself (as the Java client and franz-go do after an unknown
	// sequence): the new epoch starts at sequence 0, after which the old one is refused.
	cl = connect()
	defer cl.Close()
	fresh, err := init.RequestWith(ctx, cl)
	if err != nil || fresh.ErrorCode != 0 || fresh.ProducerID == pid {
		t.Fatalf("InitProducerId after restarts: %v %+v; want an id other than %d", err, fresh, pid)
	}
	again := kmsg.NewPtrInitProducerIDRequest()
	again.ProducerID, again.ProducerEpoch = pid, epoch
	ar, err := again.RequestWith(ctx, cl)
	if err != nil || ar.ErrorCode != 0 || ar.ProducerID == pid || ar.ProducerID == fresh.ProducerID {
		t.Fatalf("InitProducerId naming %d/%d: %v %+v; want a new id", pid, epoch, err, ar)
	}
	oldEpoch := epoch
	epoch++
	if off, code := produce(cl, 0, "new-epoch"); code != 0 || off != 4 {
		t.Fatalf("first batch of epoch %d: offset %d code %d (%v), want offset 4", epoch, off, code, kerr.ErrorForCode(code))
	}
	epoch = oldEpoch
	if _, code := produce(cl, 4, "stale"); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("a batch of the old epoch %d got code %d (%v), want INVALID_PRODUCER_EPOCH", oldEpoch, code, kerr.ErrorForCode(code))
	}

	// One record per sequence: v0..v3 at offsets 0..3, then the new epoch's at 4.
	read := kafkatest.ReadAll(t, p.Addr, "retry", 1)
	kafkatest.RequireExactlyOnce(t, read)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batch builds a one-record idempotent batch.
func batch(pid int64, epoch int16, seq int32, value string) []byte {
	var body []byte
	body = append(body, 0)             // attributes
	body = kbin.AppendVarlong(body, 0) // timestamp delta
	body = kbin.AppendVarint(body, 0)  // offset delta
	body = kbin.AppendVarint(body, -1) // null key
	body = kbin.AppendVarintBytes(body, []byte(value))
	body = kbin.AppendVarint(body, 0) // no headers
	recBytes := append(kbin.AppendVarint(nil, int32(len(body))), body...)
	b := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2,
		LastOffsetDelta: 0, FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: 1, Records: recBytes,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], castagnoli))
	return out
}
