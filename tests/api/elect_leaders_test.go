package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// electLeaders sends ElectLeaders at version with an election type (ignored at v0) for
// topics (nil: every partition).
func electLeaders(t *testing.T, c *conn, version int16, typ int8, topics map[string][]int32) *kmsg.ElectLeadersResponse {
	t.Helper()
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version = version
	req.ElectionType = typ
	req.TimeoutMillis = 30000
	if topics != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		for name, ps := range topics {
			req.Topics = append(req.Topics, kmsg.ElectLeadersRequestTopic{Topic: name, Partitions: ps})
		}
	}
	return c.do(req).(*kmsg.ElectLeadersResponse)
}

// electCodes returns each answered partition's error code by "topic/p", and the topics.
func electCodes(resp *kmsg.ElectLeadersResponse) (map[string]int16, []string) {
	codes := make(map[string]int16)
	var topics []string
	for _, rt := range resp.Topics {
		topics = append(topics, rt.Topic)
		for _, p := range rt.Partitions {
			codes[fmt.Sprintf("%s/%d", rt.Topic, p.Partition)] = p.ErrorCode
		}
	}
	return codes, topics
}

// TestElectLeaders: a partition's one replica is its leader, so a preferred or unclean
// election is ELECTION_NOT_NEEDED for every partition named, unknown topics and partitions
// UNKNOWN_TOPIC_OR_PARTITION, and a null topic list lists every topic with no partition
// (those not needing election are left out), as Kafka 4.4 answers.
func TestElectLeaders(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	name := topicName(t)
	unknown := topicName(t)
	createTopic(t, c, name, 2, nil)

	for v := int16(0); v <= 2; v++ {
		for _, typ := range []int8{0, 1} {
			if v == 0 && typ == 1 {
				continue // v0 has no election type: preferred
			}
			t.Run(fmt.Sprintf("v%d type %d named partitions", v, typ), func(t *testing.T) {
				resp := electLeaders(t, c, v, typ, map[string][]int32{name: {0, 1, 5}, unknown: {0}})
				wantCode(t, "ElectLeaders top-level", resp.ErrorCode, nil)
				codes, _ := electCodes(resp)
				for p, want := range map[string]*kerr.Error{
					name + "/0":    kerr.ElectionNotNeeded,
					name + "/1":    kerr.ElectionNotNeeded,
					name + "/5":    kerr.UnknownTopicOrPartition,
					unknown + "/0": kerr.UnknownTopicOrPartition,
				} {
					got, ok := codes[p]
					if !ok {
						t.Fatalf("no answer for %s: %v", p, codes)
					}
					wantCode(t, "ElectLeaders "+p, got, want)
				}
				if len(codes) != 4 {
					t.Fatalf("answers %v for 4 partitions", codes)
				}
			})
		}
		t.Run(fmt.Sprintf("v%d every partition", v), func(t *testing.T) {
			resp := electLeaders(t, c, v, 0, nil)
			wantCode(t, "ElectLeaders top-level", resp.ErrorCode, nil)
			codes, topics := electCodes(resp)
			if len(codes) != 0 {
				t.Fatalf("every-partition election answers %v, want no partition (none needs election)", codes)
			}
			found := false
			for _, tp := range topics {
				found = found || tp == name
			}
			if !found {
				t.Fatalf("every-partition election lists topics %v, without %s", topics, name)
			}
		})
	}

	t.Run("unknown election type is INVALID_REQUEST", func(t *testing.T) {
		for _, v := range []int16{1, 2} {
			resp := electLeaders(t, c, v, 5, map[string][]int32{name: {0}})
			wantCode(t, fmt.Sprintf("ElectLeaders v%d type 5", v), resp.ErrorCode, kerr.InvalidRequest)
			codes, _ := electCodes(resp)
			wantCode(t, "partition 0", codes[name+"/0"], kerr.InvalidRequest)
		}
	})
}
