package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestClusterMetadataListsEveryBroker guards what a client sees of a cluster of three
// brokers (issue 12, acceptance 1-3): every broker's Metadata lists all three at their
// advertised listeners and names the same controller; a topic created through one broker
// is in that broker's Metadata as soon as CreateTopics answers and in every other broker's
// shortly after, every partition led by a live broker, the leaders spread over the brokers,
// leader and leader epoch the same whichever broker is asked; a broker that does not lead a
// partition answers Produce, ListOffsets and Fetch for it with NOT_LEADER_OR_FOLLOWER
// (before the cluster existed, every broker accepted every partition, so two brokers could
// append to one partition at once); and a franz-go client bootstrapped from one broker
// produces to every partition through their leaders and reads everything back.
func TestClusterMetadataListsEveryBroker(t *testing.T) {
	c := startCluster(t, 3)
	kafkatest.WaitUntil(t, 15*time.Second, "every broker to list all 3 brokers and the same controller", func() error {
		_, err := c.agreed("", 0)
		return err
	})
	v, _ := c.agreed("", 0)
	t.Logf("brokers %v, controller %d", v.brokers, v.controller)

	const topic, partitions = "spread", 12
	createTopic(t, c, 0, topic, partitions)
	created := time.Now()
	// The broker that answered CreateTopics has the topic at once (a client's next
	// Metadata may go to it); the others learn it through etcd.
	if _, err := c.describe(0, topic, partitions); err != nil {
		t.Errorf("right after CreateTopics answered: %v", err)
	}
	kafkatest.WaitUntil(t, 5*time.Second, fmt.Sprintf("every broker to agree on the leaders of %s", topic), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	v, _ = c.agreed(topic, partitions)
	t.Logf("every broker agreed on %s's leaders %s after CreateTopics answered: %v", topic, time.Since(created).Round(time.Millisecond), v.leaders)
	led := map[int32]int{}
	for _, l := range v.leaders {
		led[l.id]++
	}
	if len(led) < 2 {
		t.Errorf("the leaders of %s's %d partitions are all on broker(s) %v; want them spread over at least 2 brokers", topic, partitions, led)
	}

	ledger := ackcheck.NewLedger()
	t.Run("NonLeaderRefuses", func(t *testing.T) {
		const p = 0
		l := v.leaders[p]
		other := (l.id + 1) % int32(len(c.brokers))
		for _, tc := range []struct {
			api  string
			send func(id int32) (int16, error)
		}{
			{"Produce", func(id int32) (int16, error) {
				code, off, err := c.produceOne(id, topic, v.topicID, p, fmt.Appendf(nil, "raw-%d", id))
				if err == nil && code == 0 {
					ledger.Ack(ackcheck.Partition{Topic: topic, Partition: p}, off, fmt.Appendf(nil, "raw-%d", id))
				}
				return code, err
			}},
			{"ListOffsets", func(id int32) (int16, error) { return c.listEnd(id, topic, p) }},
			{"Fetch", func(id int32) (int16, error) { return c.fetchStart(id, topic, v.topicID, p) }},
		} {
			t.Run(tc.api, func(t *testing.T) {
				code, err := tc.send(other)
				switch {
				case err != nil:
					t.Errorf("%s of %s[%d] sent to broker %d (leader %d): %v", tc.api, topic, p, other, l.id, err)
				case code != kerr.NotLeaderForPartition.Code:
					t.Errorf("%s of %s[%d] sent to broker %d, which does not lead it (leader %d epoch %d), answered %v; want NOT_LEADER_OR_FOLLOWER (6)",
						tc.api, topic, p, other, l.id, l.epoch, kerr.ErrorForCode(code))
				}
				// The same request to the leader succeeds: the refusal is about leadership.
				if code, err := tc.send(l.id); err != nil || code != 0 {
					t.Errorf("%s of %s[%d] sent to its leader %d answered %v, %v; want no error", tc.api, topic, p, l.id, kerr.ErrorForCode(code), err)
				}
			})
		}
	})

	t.Run("FranzGoRoundTrip", func(t *testing.T) {
		// Bootstrapped from one broker, the client finds every leader through Metadata.
		cl := kafkatest.NewIdempotentProducer(t, c.brokers[2].Addr)
		kafkatest.ProduceSync(t, cl, ledger, topic, partitions, "franz", 1200)
		read := kafkatest.ReadAll(t, c.brokers[1].Addr, topic, partitions)
		if err := ledger.Verify(read); err != nil {
			t.Fatal(err)
		}
		kafkatest.RequireExactlyOnce(t, read)
		t.Logf("%d records acknowledged and read back from %d partitions", ledger.Len(), partitions)
	})
}

// createTopic creates topic through broker id (not through the controller, as franz-go
// would route it) and fails the test unless it answers without error.
func createTopic(t *testing.T, c *cluster, id int32, topic string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(requestTimeout / time.Millisecond)
	r, err := c.request(id, req)
	if err != nil {
		t.Fatalf("cannot create topic %s through broker %d: %v", topic, id, err)
	}
	resp := r.(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("cannot create topic %s through broker %d: the response holds %d topics", topic, id, len(resp.Topics))
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		msg := ""
		if m := resp.Topics[0].ErrorMessage; m != nil {
			msg = ": " + *m
		}
		t.Fatalf("cannot create topic %s through broker %d: %v%s", topic, id, kerr.ErrorForCode(code), msg)
	}
}

// listEnd asks broker id for the high watermark of topic[p], sending no leader epoch, and
// returns the partition's error code.
func (c *cluster) listEnd(id int32, topic string, p int32) (int16, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.request(id, req)
	if err != nil {
		return 0, err
	}
	resp := r.(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("broker %d: ListOffsets of %s[%d] answered %d topics, want 1 with 1 partition", id, topic, p, len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}

// fetchStart fetches topic[p] from offset 0 on broker id without waiting and without a
// leader epoch, and returns the partition's error code (or the response's, if it has one).
func (c *cluster) fetchStart(id int32, topic string, topicID [16]byte, p int32) (int16, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 1<<20
	req.SessionID, req.SessionEpoch = 0, -1 // no fetch session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, 0, 1<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.request(id, req)
	if err != nil {
		return 0, err
	}
	resp := r.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return resp.ErrorCode, nil
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("broker %d: Fetch of %s[%d] answered %d topics, want 1 with 1 partition", id, topic, p, len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}
