package cluster

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestNotLeaderHintsNameTheLeader guards the KIP-951 leader hints (issue 12, acceptance 3):
// a broker that does not lead a partition answers Produce v11 and Fetch v16 for it with
// NOT_LEADER_OR_FOLLOWER, the partition's leader and leader epoch in CurrentLeader and
// that leader's advertised host and port in NodeEndpoints, so that a client goes straight
// to the leader (before, it got the error alone and had to ask for Metadata first); Produce
// v9 and Fetch v15, whose schemas have no such fields, get the error alone. After the
// leader is stopped (SIGTERM drains it), the hints name the new leader at its new epoch,
// and the new leader answers a Fetch v16 at the old epoch with FENCED_LEADER_EPOCH naming
// itself.
func TestNotLeaderHintsNameTheLeader(t *testing.T) {
	c := startCluster(t, 3)
	const topic, partitions, p = "hints", 3, 0
	createTopic(t, c, 0, topic, partitions)
	kafkatest.WaitUntil(t, 10*time.Second, fmt.Sprintf("every broker to agree on the leaders of %s", topic), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	v, _ := c.agreed(topic, partitions)
	old := v.leaders[p]
	for _, id := range c.live() {
		if id != old.id {
			c.checkLeaderHints(t, id, topic, v.topicID, p, old)
		}
	}

	c.brokers[old.id].Term(30 * time.Second)
	kafkatest.WaitUntil(t, 15*time.Second, fmt.Sprintf("the live brokers to agree on new leaders of %s", topic), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	v, _ = c.agreed(topic, partitions)
	moved := v.leaders[p]
	t.Logf("%s[%d] moved from broker %d epoch %d to broker %d epoch %d", topic, p, old.id, old.epoch, moved.id, moved.epoch)
	if moved.epoch <= old.epoch {
		t.Fatalf("%s[%d] moved from broker %d epoch %d to broker %d at epoch %d; want a greater epoch", topic, p, old.id, old.epoch, moved.id, moved.epoch)
	}
	for _, id := range c.live() {
		if id != moved.id {
			c.checkLeaderHints(t, id, topic, v.topicID, p, moved)
		}
	}

	t.Run("FencedEpochFromTheLeader", func(t *testing.T) {
		resp, err := c.pinnedFetch(moved.id, 16, v.topicID, p, old.epoch)
		if err != nil {
			t.Fatal(err)
		}
		c.checkFetchHint(t, moved.id, resp, kerr.FencedLeaderEpoch, &moved)
	})
}

// checkLeaderHints sends Produce and Fetch of topic[p] to broker from, which does not lead
// it, at versions with and without the KIP-951 fields, and checks the error and the hints.
func (c *cluster) checkLeaderHints(t *testing.T, from int32, topic string, topicID [16]byte, p int32, want leader) {
	t.Run(fmt.Sprintf("Broker%dLeader%dEpoch%d", from, want.id, want.epoch), func(t *testing.T) {
		for _, v := range []int16{11, 9} {
			t.Run("ProduceV"+strconv.Itoa(int(v)), func(t *testing.T) {
				resp, err := c.pinnedProduce(from, v, topic, p)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
					t.Fatalf("Produce to %s[%d] on broker %d answered %d topics, want 1 with 1 partition", topic, p, from, len(resp.Topics))
				}
				rp := resp.Topics[0].Partitions[0]
				if rp.ErrorCode != kerr.NotLeaderForPartition.Code {
					t.Fatalf("Produce v%d to %s[%d] on broker %d, which does not lead it, answered %v; want NOT_LEADER_OR_FOLLOWER", v, topic, p, from, kerr.ErrorForCode(rp.ErrorCode))
				}
				got := leader{rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch}
				var eps []endpoint
				for _, b := range resp.Brokers {
					eps = append(eps, endpoint{b.NodeID, b.Host, b.Port})
				}
				c.checkHint(t, fmt.Sprintf("Produce v%d", v), v >= 10, got, eps, want)
			})
		}
		for _, v := range []int16{16, 15} {
			t.Run("FetchV"+strconv.Itoa(int(v)), func(t *testing.T) {
				resp, err := c.pinnedFetch(from, v, topicID, p, -1)
				if err != nil {
					t.Fatal(err)
				}
				var wantLeader *leader
				if v >= 16 {
					wantLeader = &want
				}
				c.checkFetchHint(t, from, resp, kerr.NotLeaderForPartition, wantLeader)
			})
		}
	})
}

// endpoint is one broker of a response's NodeEndpoints.
type endpoint struct {
	id   int32
	host string
	port int32
}

// checkFetchHint checks a one-partition Fetch response for error code and, with want
// non-nil, the hint naming want; with want nil, no hint.
func (c *cluster) checkFetchHint(t *testing.T, from int32, resp *kmsg.FetchResponse, code *kerr.Error, want *leader) {
	t.Helper()
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Fetch v%d of one partition on broker %d answered %v with %d topics, want 1 with 1 partition", resp.Version, from, kerr.ErrorForCode(resp.ErrorCode), len(resp.Topics))
	}
	rp := resp.Topics[0].Partitions[0]
	if rp.ErrorCode != code.Code {
		t.Fatalf("Fetch v%d on broker %d answered %v; want %s", resp.Version, from, kerr.ErrorForCode(rp.ErrorCode), code.Message)
	}
	got := leader{rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch}
	var eps []endpoint
	for _, b := range resp.Brokers {
		eps = append(eps, endpoint{b.NodeID, b.Host, b.Port})
	}
	if want == nil {
		c.checkHint(t, fmt.Sprintf("Fetch v%d", resp.Version), false, got, eps, leader{})
		return
	}
	c.checkHint(t, fmt.Sprintf("Fetch v%d", resp.Version), true, got, eps, *want)
}

// checkHint checks a partition's CurrentLeader (got) and the response's NodeEndpoints (eps):
// with hinted, want and exactly want's endpoint, at its broker's advertised listener;
// without, neither (the default -1, -1 and none).
func (c *cluster) checkHint(t *testing.T, what string, hinted bool, got leader, eps []endpoint, want leader) {
	t.Helper()
	if !hinted {
		if got != (leader{-1, -1}) || len(eps) != 0 {
			t.Errorf("%s, which has no leader hint fields, carries CurrentLeader %+v and NodeEndpoints %+v", what, got, eps)
		}
		return
	}
	if got != want {
		t.Errorf("%s: CurrentLeader is broker %d epoch %d; want broker %d epoch %d", what, got.id, got.epoch, want.id, want.epoch)
	}
	addr := c.brokers[want.id].Addr
	if len(eps) != 1 || eps[0].id != want.id || fmt.Sprintf("%s:%d", eps[0].host, eps[0].port) != addr {
		t.Errorf("%s: NodeEndpoints %+v; want broker %d alone at %s", what, eps, want.id, addr)
	}
}

// pinnedClient returns a client that sends to broker id alone, Produce at most at
// produceMax and Fetch at most at fetchMax.
func (c *cluster) pinnedClient(id int32, produceMax, fetchMax int16) *kgo.Client {
	c.t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(int16(kmsg.Produce), produceMax)
	vs.SetMaxKeyVersion(int16(kmsg.Fetch), fetchMax)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers[id].Addr), kgo.MaxVersions(vs), kgo.DialTimeout(time.Second))
	if err != nil {
		c.t.Fatalf("cannot create a client for broker %d: %v", id, err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// pinnedProduce sends one batch to topic[p] on broker id with acks=all at Produce version
// v (failing if the broker would take another).
func (c *cluster) pinnedProduce(id int32, v int16, topic string, p int32) (*kmsg.ProduceResponse, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, int32(requestTimeout/time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, kafkatest.RecordBatch([]byte("hint"))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.pinnedRequest(id, v, 16, req)
	if err != nil {
		return nil, err
	}
	return r.(*kmsg.ProduceResponse), nil
}

// pinnedFetch fetches topic[p] from offset 0 on broker id at Fetch version v (13 or
// later: by topic id) with the given CurrentLeaderEpoch, without waiting.
func (c *cluster) pinnedFetch(id int32, v int16, topicID [16]byte, p, epoch int32) (*kmsg.FetchResponse, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 1<<20
	req.SessionID, req.SessionEpoch = 0, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, 0, 1<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = epoch, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.pinnedRequest(id, 11, v, req)
	if err != nil {
		return nil, err
	}
	return r.(*kmsg.FetchResponse), nil
}

// pinnedRequest sends req to broker id through a client pinned to those Produce and Fetch
// versions and checks the version it went at.
func (c *cluster) pinnedRequest(id int32, produceMax, fetchMax int16, req kmsg.Request) (kmsg.Response, error) {
	cl := c.pinnedClient(id, produceMax, fetchMax)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("broker %d: %s: %w", id, kmsg.NameForKey(req.Key()), err)
	}
	want := produceMax
	if req.Key() == int16(kmsg.Fetch) {
		want = fetchMax
	}
	if got := resp.GetVersion(); got != want {
		return nil, fmt.Errorf("broker %d: %s went at v%d, want v%d", id, kmsg.NameForKey(req.Key()), got, want)
	}
	return resp, nil
}
