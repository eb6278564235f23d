package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newTopicReq is one CreateTopics topic.
type newTopicReq struct {
	name       string
	partitions int32
	rf         int16
	configs    map[string]string
}

func createTopicsReq(version int16, validateOnly bool, topics ...newTopicReq) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = version
	req.TimeoutMillis = 30000
	req.ValidateOnly = validateOnly
	for _, nt := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = nt.name, nt.partitions, nt.rf
		for k, v := range nt.configs {
			rc := kmsg.NewCreateTopicsRequestTopicConfig()
			rc.Name, rc.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, rc)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// createOne sends one topic and returns its answer.
func createOne(t *testing.T, c *conn, version int16, validateOnly bool, nt newTopicReq) kmsg.CreateTopicsResponseTopic {
	t.Helper()
	resp := c.do(createTopicsReq(version, validateOnly, nt)).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics answers %d topics for one", len(resp.Topics))
	}
	if resp.Topics[0].Topic != nt.name {
		t.Fatalf("CreateTopics answers topic %q for %q", resp.Topics[0].Topic, nt.name)
	}
	return resp.Topics[0]
}

// wantAbsent fails t if Metadata knows the topic.
func wantAbsent(t *testing.T, c *conn, name string) {
	t.Helper()
	wantCode(t, "Metadata of "+name, metadataTopic(t, c, name).ErrorCode, kerr.UnknownTopicOrPartition)
}

func TestCreateTopics(t *testing.T) {
	b := startBroker(t, "--num-partitions", "3")
	ctx := testContext(t)

	t.Run("partition count -1 uses num.partitions", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{4, 7} {
			name := topicName(t)
			rr := createOne(t, c, v, false, newTopicReq{name: name, partitions: -1, rf: -1})
			wantCode(t, fmt.Sprintf("CreateTopics v%d with -1 partitions", v), rr.ErrorCode, nil)
			if n := len(metadataTopic(t, c, name).Partitions); n != 3 {
				t.Fatalf("topic created with -1 partitions has %d, want num.partitions=3", n)
			}
		}
	})

	t.Run("zero or negative partitions is INVALID_PARTITIONS", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, n := range []int32{0, -2, -100} {
			name := topicName(t)
			rr := createOne(t, c, 7, false, newTopicReq{name: name, partitions: n, rf: 1})
			wantCode(t, fmt.Sprintf("CreateTopics with %d partitions", n), rr.ErrorCode, kerr.InvalidPartitions)
			wantAbsent(t, c, name)
		}
	})

	t.Run("invalid names are INVALID_TOPIC_EXCEPTION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{2, 5, 7} {
			for _, name := range []string{"", ".", "..", strings.Repeat("a", 250), "a/b"} {
				rr := createOne(t, c, v, false, newTopicReq{name: name, partitions: 1, rf: 1})
				wantCode(t, fmt.Sprintf("CreateTopics v%d %q", v, name), rr.ErrorCode, kerr.InvalidTopicException)
			}
		}
	})

	t.Run("249 characters is a valid name", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		name += strings.Repeat("x", 249-len(name))
		rr := createOne(t, c, 7, false, newTopicReq{name: name, partitions: 1, rf: 1})
		wantCode(t, "CreateTopics with a 249-character name", rr.ErrorCode, nil)
	})

	t.Run("existing topic is TOPIC_ALREADY_EXISTS", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		createTopic(t, c, name, 2, nil)
		for _, v := range []int16{2, 7} {
			rr := createOne(t, c, v, false, newTopicReq{name: name, partitions: 4, rf: 1})
			wantCode(t, fmt.Sprintf("CreateTopics v%d of an existing topic", v), rr.ErrorCode, kerr.TopicAlreadyExists)
		}
		if n := len(metadataTopic(t, c, name).Partitions); n != 2 {
			t.Fatalf("existing topic now has %d partitions, want 2", n)
		}
	})

	t.Run("unknown config is INVALID_CONFIG", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		rr := createOne(t, c, 7, false, newTopicReq{name: name, partitions: 1, rf: 1, configs: map[string]string{"no.such.config": "1"}})
		wantCode(t, "CreateTopics with an unknown config", rr.ErrorCode, kerr.InvalidConfig)
		wantAbsent(t, c, name)
	})

	t.Run("bad config values are INVALID_CONFIG", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for k, v := range map[string]string{"retention.ms": "abc", "max.message.bytes": "1.5", "cleanup.policy": "sometimes", "preallocate": "maybe"} {
			name := topicName(t)
			rr := createOne(t, c, 7, false, newTopicReq{name: name, partitions: 1, rf: 1, configs: map[string]string{k: v}})
			wantCode(t, fmt.Sprintf("CreateTopics with %s=%s", k, v), rr.ErrorCode, kerr.InvalidConfig)
			wantAbsent(t, c, name)
		}
	})

	// Kafka refuses a config without a value (ReplicationControlManager: "Null value not
	// supported for topic configs").
	t.Run("null config value is INVALID_CONFIG", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		req := createTopicsReq(7, false, newTopicReq{name: name, partitions: 1, rf: 1})
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = "retention.ms", nil
		req.Topics[0].Configs = append(req.Topics[0].Configs, rc)
		resp := c.do(req).(*kmsg.CreateTopicsResponse)
		wantCode(t, "CreateTopics with retention.ms=null", resp.Topics[0].ErrorCode, kerr.InvalidConfig)
		wantAbsent(t, c, name)
	})

	t.Run("validate_only creates nothing", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		rr := createOne(t, c, 7, true, newTopicReq{name: name, partitions: 4, rf: 1, configs: map[string]string{"retention.ms": "3600000"}})
		wantCode(t, "CreateTopics validate_only", rr.ErrorCode, nil)
		if rr.NumPartitions != 4 {
			t.Fatalf("validate_only answers %d partitions, want 4", rr.NumPartitions)
		}
		wantAbsent(t, c, name)
		// Errors are still reported.
		bad := createOne(t, c, 7, true, newTopicReq{name: name, partitions: 0, rf: 1})
		wantCode(t, "CreateTopics validate_only with 0 partitions", bad.ErrorCode, kerr.InvalidPartitions)
		// And the name is still free.
		rr = createOne(t, c, 7, false, newTopicReq{name: name, partitions: 4, rf: 1})
		wantCode(t, "CreateTopics after validate_only", rr.ErrorCode, nil)
	})

	t.Run("v5+ response carries partition count and configs", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{5, 6, 7} {
			name := topicName(t)
			rr := createOne(t, c, v, false, newTopicReq{name: name, partitions: 5, rf: -1, configs: map[string]string{"retention.ms": "3600000"}})
			wantCode(t, fmt.Sprintf("CreateTopics v%d", v), rr.ErrorCode, nil)
			if rr.NumPartitions != 5 || rr.ReplicationFactor != 1 {
				t.Fatalf("CreateTopics v%d answers %d partitions, replication factor %d; want 5, 1", v, rr.NumPartitions, rr.ReplicationFactor)
			}
			found := map[string]kmsg.CreateTopicsResponseTopicConfig{}
			for _, rc := range rr.Configs {
				found[rc.Name] = rc
			}
			rc, ok := found["retention.ms"]
			if !ok || rc.Value == nil || *rc.Value != "3600000" || rc.Source != int8(kmsg.ConfigSourceDynamicTopicConfig) {
				t.Fatalf("CreateTopics v%d answers retention.ms %+v, want 3600000 from DYNAMIC_TOPIC_CONFIG", v, rc)
			}
			rc, ok = found["cleanup.policy"]
			if !ok || rc.Value == nil || *rc.Value != "delete" || rc.Source != int8(kmsg.ConfigSourceDefaultConfig) {
				t.Fatalf("CreateTopics v%d answers cleanup.policy %+v, want delete from DEFAULT_CONFIG", v, rc)
			}
		}
	})

	t.Run("v7 topic id is non-zero and matches Metadata", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		name := topicName(t)
		rr := createOne(t, c, 7, false, newTopicReq{name: name, partitions: 1, rf: 1})
		wantCode(t, "CreateTopics v7", rr.ErrorCode, nil)
		if rr.TopicID == [16]byte{} {
			t.Fatal("CreateTopics v7 answers a zero topic id")
		}
		if got := metadataTopic(t, c, name).TopicID; got != rr.TopicID {
			t.Fatalf("Metadata topic id %x, CreateTopics said %x", got, rr.TopicID)
		}
	})

	t.Run("one bad topic does not fail the others", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		good, bad := topicName(t), "bad/name"
		resp := c.do(createTopicsReq(7, false,
			newTopicReq{name: good, partitions: 2, rf: 1},
			newTopicReq{name: bad, partitions: 2, rf: 1})).(*kmsg.CreateTopicsResponse)
		codes := map[string]int16{}
		for _, rt := range resp.Topics {
			codes[rt.Topic] = rt.ErrorCode
		}
		wantCode(t, "CreateTopics of the good topic", codes[good], nil)
		wantCode(t, "CreateTopics of the bad topic", codes[bad], kerr.InvalidTopicException)
	})
}
