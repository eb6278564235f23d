package broker

// Leader hints (KIP-951): a partition of a Produce v10+ answer with NOT_LEADER_OR_FOLLOWER,
// or of a Fetch v16+ answer with NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, carries
// CurrentLeader, the partition's leader and leader epoch as this broker's Metadata would
// answer them (-1, -1 while its leadership moves, which the encoders leave out as Kafka's
// do); the response's NodeEndpoints lists the advertised listener of every leader so named,
// so that the client goes to the new leader without first asking for Metadata. This is
// what Kafka's KafkaApis does (handleProduceRequest, handleFetchRequest), from the same view
// of the cluster Metadata answers from; NodeEndpoints are sorted by id (Kafka's order is a
// hash map's). Each API fills them in one place, just before its answer is sent.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/meta/metapb"
)

// Versions from which the answers have the KIP-951 fields.
const (
	produceLeaderHintVersion = 10
	fetchLeaderHintVersion   = 16
)

// leaderHints gathers the leaders named in one response. The cluster view is read once,
// at the first partition that needs it (most responses need none).
type leaderHints struct {
	b     *Broker
	lv    *leaderView
	named map[int32]*metapb.Broker // endpoints of the leaders named so far, by broker id
}

// of returns the current leader and epoch of partition p of t and remembers its endpoint.
func (h *leaderHints) of(t *topic, p int32) (leader, epoch int32) {
	if h.lv == nil {
		lv := h.b.leaderView()
		h.lv = &lv
	}
	leader, epoch = h.b.partitionLeader(t, p, *h.lv)
	if leader < 0 {
		return leader, epoch
	}
	if ep := h.b.brokerEndpoint(leader, *h.lv); ep != nil {
		if h.named == nil {
			h.named = make(map[int32]*metapb.Broker)
		}
		h.named[leader] = ep
	}
	return leader, epoch
}

// endpoints returns the leaders named, by id.
func (h *leaderHints) endpoints() []*metapb.Broker {
	out := make([]*metapb.Broker, 0, len(h.named))
	for _, ep := range h.named {
		out = append(out, ep)
	}
	slices.SortFunc(out, func(x, y *metapb.Broker) int { return cmp.Compare(x.Id, y.Id) })
	return out
}

// addProduceLeaderHints fills CurrentLeader and Brokers (NodeEndpoints) of a Produce v10+
// answer.
func (b *Broker) addProduceLeaderHints(resp *kmsg.ProduceResponse, listener string) {
	h := leaderHints{b: b}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		var t *topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if rp.ErrorCode != kerr.NotLeaderForPartition.Code {
				continue
			}
			if t == nil {
				t = b.topicByName(rt.Topic)
			}
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = h.of(t, rp.Partition)
		}
	}
	for _, ep := range h.endpoints() {
		host, port := endpointOf(ep, listener)
		resp.Brokers = append(resp.Brokers, kmsg.ProduceResponseBroker{NodeID: ep.Id, Host: host, Port: port, Rack: nilIfEmpty(ep.Rack)})
	}
}

// addFetchLeaderHints fills CurrentLeader and NodeEndpoints of a Fetch v16+ answer (topics
// by id, as from v13).
func (b *Broker) addFetchLeaderHints(resp *codec.FetchResponse, listener string) {
	h := leaderHints{b: b}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		var t *topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if rp.ErrorCode != kerr.NotLeaderForPartition.Code && rp.ErrorCode != kerr.FencedLeaderEpoch.Code {
				continue
			}
			if t == nil {
				t = b.topicByID(rt.TopicID)
			}
			id, epoch := h.of(t, rp.Partition)
			rp.CurrentLeader = &codec.FetchLeader{LeaderID: id, LeaderEpoch: epoch}
		}
	}
	for _, ep := range h.endpoints() {
		host, port := endpointOf(ep, listener)
		resp.NodeEndpoints = append(resp.NodeEndpoints, codec.FetchNodeEndpoint{NodeID: ep.Id, Host: host, Port: port, Rack: nilIfEmpty(ep.Rack)})
	}
}
