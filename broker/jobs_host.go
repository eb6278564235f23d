package broker

import (
	"context"

	"github.com/kafscale/kafscale/lifecycle"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
)

// ledPartition is one partition this broker leads, with its topic.
type ledPartition struct {
	t  *topic
	p  int32
	ps *partState
}

// ledPartitions returns the partitions this broker leads. It takes b.mu.
func (b *Broker) ledPartitions() []ledPartition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []ledPartition
	for _, t := range b.topics {
		for p, ps := range t.parts {
			if ps != nil {
				out = append(out, ledPartition{t, int32(p), ps})
			}
		}
	}
	return out
}

// jobsHost is what the lifecycle jobs (merging, GC, retention, compaction, checkpoints)
// see of the broker: its led partitions, its fence, its flusher's commit floor and topic
// configs.
type jobsHost struct{ b *Broker }

var _ lifecycle.Host = jobsHost{}

func (h jobsHost) Partitions() []lifecycle.Partition {
	led := h.b.ledPartitions()
	out := make([]lifecycle.Partition, len(led))
	for i, lp := range led {
		out[i] = lifecycle.Partition{Topic: lp.t.meta, TopicID: lp.t.id, Index: lp.p, Log: lp.ps.log, State: lp.ps.lc,
			MaxMessageBytes: h.b.maxMessageBytes(lp.t.meta)}
	}
	return out
}

func (h jobsHost) FenceRev() int64 { return h.b.fenceRev.Load() }

func (h jobsHost) RefreshFence(ctx context.Context) (*meta.FenceState, error) {
	return h.b.refreshFence(ctx)
}

func (h jobsHost) Stopped() bool { return h.b.stopped.Load() }

func (h jobsHost) StopServing(why string) { h.b.stopServing(why) }

func (h jobsHost) CommitFloor() uint64 { return h.b.flusher.CommitFloor() }

func (h jobsHost) TopicConfig(t *metapb.Topic, name string) (value, def string) {
	return topicConfig(t, name), topicConfigs[name].def
}
