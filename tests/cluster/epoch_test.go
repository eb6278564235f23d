package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/meta"
)

// TestOffsetForLeaderEpochAfterFailover guards issue 12's acceptance 3: after a leader
// change, OffsetForLeaderEpoch (KIP-320) answers as Kafka's leader does, so consumers
// validate their position instead of resetting it (without the API, franz-go skipped the
// validation). Records are produced to a partition, its leader is killed with kill -9, and
// once every broker agrees on a new leader at a higher epoch that acknowledges produces,
// the new leader answers: the old epoch ends where the new one began (the old log end),
// the new epoch ends at the high watermark, the undefined epoch -1 (below the partition's
// first, 0) and an epoch above the current one get -1 and -1; an old CurrentLeaderEpoch
// gets FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH; the third broker, which does
// not lead the partition, NOT_LEADER_OR_FOLLOWER. The history is in the partition's
// checkpoint, and after a second kill -9 the last leader, which read it from there, still
// answers for both earlier epochs. A franz-go consumer that read the first epoch's records
// asks OffsetForLeaderEpoch after the moves and reads on without a reset: every offset
// once, in order.
func TestOffsetForLeaderEpochAfterFailover(t *testing.T) {
	c := startCluster(t, 3)
	kafkatest.WaitUntil(t, 15*time.Second, "every broker to list all 3 brokers", func() error {
		_, err := c.agreed("", 0)
		return err
	})
	const topic, partitions = "epochs", 3
	createTopic(t, c, 0, topic, partitions)
	var before view
	kafkatest.WaitUntil(t, 10*time.Second, "every broker to agree on the leaders of "+topic, func() error {
		var err error
		before, err = c.agreed(topic, partitions)
		return err
	})
	// A partition led by a broker other than the controller: its failover waits for the
	// lease only, not for a new controller too.
	p := int32(0)
	for i, l := range before.leaders {
		if l.id != before.controller {
			p = int32(i)
			break
		}
	}
	old := before.leaders[p]

	written := map[int64][]byte{} // acknowledged records of topic[p] by offset
	const n = 10
	if got := c.produceN(t, topic, before.topicID, p, old, n, "before", written); got != n {
		t.Fatalf("%d records produced to the new partition %s[%d] end at offset %d, want %d", n, topic, p, got, n)
	}
	cons := newEpochConsumer(t, c.addrs(), topic, p)
	cons.readTo(t, n)

	after := c.killLeader(t, topic, partitions, p, old, written)
	end := c.produceN(t, topic, before.topicID, p, after, n, "after", written)

	other := int32(-1) // the live broker that does not lead p
	for _, id := range c.live() {
		if id != after.id {
			other = id
		}
	}
	for _, tc := range []struct {
		name           string
		to             int32
		current, epoch int32
		wantCode       int16
		wantEpoch      int32
		wantEnd        int64
	}{
		// The new epoch began at the old log end, n: every record before the kill was
		// acknowledged, so nothing was in flight.
		{name: "old epoch ends where the new began", to: after.id, current: -1, epoch: old.epoch, wantEpoch: old.epoch, wantEnd: n},
		{name: "old epoch with the current epoch as CurrentLeaderEpoch", to: after.id, current: after.epoch, epoch: old.epoch, wantEpoch: old.epoch, wantEnd: n},
		{name: "current epoch ends at the high watermark", to: after.id, current: after.epoch, epoch: after.epoch, wantEpoch: after.epoch, wantEnd: end},
		// The old epoch itself, or one between the two (a move whose leadership wrote
		// nothing has no entry): answered as the old epoch.
		{name: "epoch below the current", to: after.id, current: -1, epoch: after.epoch - 1, wantEpoch: old.epoch, wantEnd: n},
		{name: "undefined epoch, below the first (0)", to: after.id, current: after.epoch, epoch: -1, wantEpoch: -1, wantEnd: -1},
		{name: "epoch above the current", to: after.id, current: -1, epoch: after.epoch + 1, wantEpoch: -1, wantEnd: -1},
		{name: "old current leader epoch", to: after.id, current: old.epoch, epoch: old.epoch, wantCode: kerr.FencedLeaderEpoch.Code, wantEpoch: -1, wantEnd: -1},
		{name: "newer current leader epoch", to: after.id, current: after.epoch + 1, epoch: after.epoch, wantCode: kerr.UnknownLeaderEpoch.Code, wantEpoch: -1, wantEnd: -1},
		{name: "broker not leading the partition", to: other, current: -1, epoch: after.epoch, wantCode: kerr.NotLeaderForPartition.Code, wantEpoch: -1, wantEnd: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.offsetForLeaderEpoch(tc.to, topic, p, tc.current, tc.epoch)
			if err != nil {
				t.Fatal(err)
			}
			if got.ErrorCode != tc.wantCode || got.LeaderEpoch != tc.wantEpoch || got.EndOffset != tc.wantEnd {
				t.Errorf("OffsetForLeaderEpoch of %s[%d] at epoch %d (current %d) on broker %d (leader %d epoch %d) = %v, epoch %d, end %d; want %v, epoch %d, end %d",
					topic, p, tc.epoch, tc.current, tc.to, after.id, after.epoch,
					kerr.ErrorForCode(got.ErrorCode), got.LeaderEpoch, got.EndOffset, kerr.ErrorForCode(tc.wantCode), tc.wantEpoch, tc.wantEnd)
			}
		})
	}

	cons.readTo(t, end)

	// The history is in the partition's checkpoint, written at the takeover: the old
	// epoch from the partition's creation, the new one from the old log end.
	cp, err := c.store(t).GetCheckpoint(context.Background(), before.topicID, p)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, e := range cp.GetEpochs() {
		stored = append(stored, fmt.Sprintf("%d@%d", e.LeaderEpoch, e.StartOffset))
	}
	if want := []string{fmt.Sprintf("%d@0", old.epoch), fmt.Sprintf("%d@%d", after.epoch, n)}; !slices.Equal(stored, want) {
		t.Errorf("the checkpoint of %s[%d] holds the epoch history %v, want %v (epoch@start)", topic, p, stored, want)
	}

	// A second move: the next leader reads the history back from the checkpoint.
	last := c.killLeader(t, topic, partitions, p, after, written)
	end2 := c.produceN(t, topic, before.topicID, p, last, n, "last", written)
	for _, tc := range []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{old.epoch, old.epoch, n},
		{after.epoch, after.epoch, end},
		{last.epoch, last.epoch, end2},
	} {
		got, err := c.offsetForLeaderEpoch(last.id, topic, p, last.epoch, tc.epoch)
		switch {
		case err != nil:
			t.Error(err)
		case got.ErrorCode != 0 || got.LeaderEpoch != tc.wantEpoch || got.EndOffset != tc.wantEnd:
			t.Errorf("after the second move, OffsetForLeaderEpoch of %s[%d] at epoch %d on its leader %d (epoch %d) = %v, epoch %d, end %d; want epoch %d, end %d",
				topic, p, tc.epoch, last.id, last.epoch, kerr.ErrorForCode(got.ErrorCode), got.LeaderEpoch, got.EndOffset, tc.wantEpoch, tc.wantEnd)
		}
	}

	cons.readTo(t, end2)
	if int64(len(cons.records)) != end2 {
		t.Errorf("the consumer read %d records, want %d (offsets 0-%d once each)", len(cons.records), end2, end2-1)
	}
	for i, r := range cons.records {
		if r.Offset != int64(i) {
			t.Fatalf("the consumer's record %d is at offset %d: it reset or skipped (offsets read: %v)", i, r.Offset, cons.offsets())
		}
		if want, ok := written[r.Offset]; ok && !bytes.Equal(r.Value, want) {
			t.Errorf("offset %d holds %q, acknowledged as %q", r.Offset, r.Value, want)
		}
	}
	if asked := cons.epochRequests.Load(); asked == 0 {
		t.Errorf("the consumer never sent OffsetForLeaderEpoch after the leader changes: it did not validate its position")
	} else {
		t.Logf("the consumer validated its position with %d OffsetForLeaderEpoch request(s) and read %d records, offsets 0-%d, once each", asked, len(cons.records), end2-1)
	}
}

// killLeader kills the leader from of topic[p] with kill -9 and waits until every live
// broker agrees on a new leader at a higher epoch and it acknowledges a produce (recorded
// in written), failing the test after failoverLimit. It returns the new leader.
func (c *cluster) killLeader(t *testing.T, topic string, partitions, p int32, from leader, written map[int64][]byte) leader {
	t.Helper()
	c.brokers[from.id].Kill()
	killed := time.Now()
	var to leader
	what := fmt.Sprintf("%s[%d] led by a live broker at an epoch above %d in every broker's Metadata, acknowledging a produce", topic, p, from.epoch)
	kafkatest.WaitUntil(t, failoverLimit, what, func() error {
		v, err := c.agreed(topic, partitions)
		if err != nil {
			return err
		}
		l := v.leaders[p]
		if l.epoch <= from.epoch {
			return fmt.Errorf("leader %d at epoch %d", l.id, l.epoch)
		}
		value := fmt.Appendf(nil, "probe-%d-%d", l.epoch, time.Now().UnixNano())
		code, off, err := c.produceOne(l.id, topic, v.topicID, p, value)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("produce to leader %d (epoch %d): %w", l.id, l.epoch, kerr.ErrorForCode(code))
		}
		written[off] = value
		to = l
		return nil
	})
	t.Logf("%s[%d] moved from broker %d (epoch %d) to broker %d (epoch %d), serving %s after the kill",
		topic, p, from.id, from.epoch, to.id, to.epoch, time.Since(killed).Round(time.Millisecond))
	return to
}

// produceN produces n records of one batch each to topic[p] on its leader l, acks=all,
// recording them in written, failing the test unless each is acknowledged; it returns the
// offset after the last.
func (c *cluster) produceN(t *testing.T, topic string, topicID [16]byte, p int32, l leader, n int, prefix string, written map[int64][]byte) int64 {
	t.Helper()
	var end int64
	for i := range n {
		value := fmt.Appendf(nil, "%s-%d", prefix, i)
		code, off, err := c.produceOne(l.id, topic, topicID, p, value)
		if err != nil || code != 0 {
			t.Fatalf("produce %d to %s[%d] on its leader %d (epoch %d): %v, %v", i, topic, p, l.id, l.epoch, kerr.ErrorForCode(code), err)
		}
		written[off] = value
		end = off + 1
	}
	return end
}

// store returns a metadata store on the cluster's etcd, closed when the test ends.
func (c *cluster) store(t *testing.T) *meta.Store {
	t.Helper()
	cli, err := meta.NewClient(c.etcd.Endpoints(), requestTimeout, nil)
	if err != nil {
		t.Fatalf("cannot connect to etcd: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return meta.New(cli, meta.DefaultConfig(), nil)
}

// offsetForLeaderEpoch asks broker id where epoch of topic[p] ends, sending current as
// CurrentLeaderEpoch, and returns the partition's answer.
func (c *cluster) offsetForLeaderEpoch(id int32, topic string, p, current, epoch int32) (kmsg.OffsetForLeaderEpochResponseTopicPartition, error) {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1 // a consumer
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = p, current, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.request(id, req)
	if err != nil {
		return kmsg.OffsetForLeaderEpochResponseTopicPartition{}, err
	}
	resp := r.(*kmsg.OffsetForLeaderEpochResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].Partition != p {
		return kmsg.OffsetForLeaderEpochResponseTopicPartition{}, fmt.Errorf("broker %d: OffsetForLeaderEpoch of %s[%d] answered %+v, want that partition alone", id, topic, p, resp.Topics)
	}
	return resp.Topics[0].Partitions[0], nil
}

// epochConsumer is a franz-go consumer of one partition from its start that counts the
// OffsetForLeaderEpoch requests it completes. Its methods are for the test goroutine.
type epochConsumer struct {
	cl            *kgo.Client
	records       []*kgo.Record
	epochRequests atomic.Int64 // written by the client's goroutines
}

func newEpochConsumer(t *testing.T, seeds []string, topic string, p int32) *epochConsumer {
	t.Helper()
	ec := &epochConsumer{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.WithHooks(ec),
		// Find the new leader soon after the old one stops answering.
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.DialTimeout(time.Second),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatalf("cannot create a consumer of %s[%d]: %v", topic, p, err)
	}
	t.Cleanup(cl.Close)
	ec.cl = cl
	return ec
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (ec *epochConsumer) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key == int16(kmsg.OffsetForLeaderEpoch) && e2e.Err() == nil {
		ec.epochRequests.Add(1)
	}
}

// readTo polls until the consumer has read every offset below end, failing the test on a
// data-loss report (the client concluded the log was truncated and reset).
func (ec *epochConsumer) readTo(t *testing.T, end int64) {
	t.Helper()
	kafkatest.WaitUntil(t, 30*time.Second, fmt.Sprintf("the consumer to read offsets 0-%d", end-1), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		fs := ec.cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.As(err, &loss):
				t.Fatalf("the consumer reported data loss on %s[%d]: %v", topic, p, err)
			case !errors.Is(err, context.DeadlineExceeded):
				t.Logf("consumer: %s[%d]: %v", topic, p, err)
			}
		})
		ec.records = append(ec.records, fs.Records()...)
		if n := len(ec.records); n == 0 || ec.records[n-1].Offset < end-1 {
			return fmt.Errorf("read %d records, last offsets %v", n, ec.offsets())
		}
		return nil
	})
}

// offsets returns the offsets read, the last 20 at most.
func (ec *epochConsumer) offsets() []int64 {
	var out []int64
	for _, r := range ec.records[max(0, len(ec.records)-20):] {
		out = append(out, r.Offset)
	}
	return out
}
