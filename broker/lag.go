package broker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/grouplag"
	"github.com/kafscale/kafscale/partition"
)

// lagSource gives the lag exporter (grouplag) the committed offsets of the groups this
// broker coordinates, and partition high watermarks: from the partition's Log where this
// broker leads it, else from its leader by ListOffsets, through a Kafka client of this
// broker's own listener (created on first need; its requests show in the request metrics
// as any client's). Owned by the exporter's goroutine.
type lagSource struct {
	b   *Broker
	mu  sync.Mutex
	adm *kadm.Client // nil until a partition led elsewhere is asked for
}

// runLag exports consumer-group lag every cfg.Lag.Interval until the broker closes.
func (b *Broker) runLag() {
	src := &lagSource{b: b}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		grouplag.New(b.cfg.Lag, src, b.log.With("component", "lag")).Run(b.ctx)
		src.close()
	}()
}

func (s *lagSource) Committed(ctx context.Context) ([]grouplag.Position, error) {
	groups, err := s.b.groups.CommittedOffsets(ctx)
	if err != nil {
		return nil, err
	}
	var out []grouplag.Position
	for _, g := range groups {
		for _, o := range g.Offsets {
			out = append(out, grouplag.Position{Group: g.Group, TopicID: o.Partition.TopicID, Partition: o.Partition.Partition, Committed: o.Offset})
		}
	}
	return out, nil
}

func (s *lagSource) Ends(ctx context.Context, parts []grouplag.PartitionID) (map[grouplag.PartitionID]grouplag.End, error) {
	out, remote := s.localEnds(parts)
	if len(remote) == 0 {
		return out, nil
	}
	topics := make([]string, 0, len(remote))
	for name := range remote {
		topics = append(topics, name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	listed, err := s.client().ListEndOffsets(ctx, topics...)
	if err != nil {
		// The local partitions' lag is still worth exporting; these stay unknown.
		s.b.log.Warn("cannot list high watermarks of partitions led by other brokers for consumer lag", "topics", len(topics), "err", err)
		return out, nil
	}
	listed.Each(func(o kadm.ListedOffset) {
		if p, ok := remote[o.Topic][o.Partition]; ok && o.Err == nil {
			out[p] = grouplag.End{Topic: o.Topic, HighWatermark: o.Offset}
		}
	})
	return out, nil
}

// localEnds returns the ends of the partitions this broker leads, and the others of
// existing topics by topic name (partitions of deleted topics are in neither).
func (s *lagSource) localEnds(parts []grouplag.PartitionID) (map[grouplag.PartitionID]grouplag.End, map[string]map[int32]grouplag.PartitionID) {
	type led struct {
		id    grouplag.PartitionID
		topic string
		log   *partition.Log
	}
	var local []led
	remote := map[string]map[int32]grouplag.PartitionID{} // topic -> partitions led elsewhere
	s.b.mu.RLock()                                        // t.parts changes under it (takeovers, resignations)
	for _, p := range parts {
		t := s.b.byID[p.TopicID]
		if t == nil || p.Partition < 0 || p.Partition >= t.meta.Partitions {
			continue // deleted: unknown
		}
		if int(p.Partition) < len(t.parts) && t.parts[p.Partition] != nil {
			local = append(local, led{p, t.meta.Name, t.parts[p.Partition].log})
			continue
		}
		if remote[t.meta.Name] == nil {
			remote[t.meta.Name] = map[int32]grouplag.PartitionID{}
		}
		remote[t.meta.Name][p.Partition] = p
	}
	s.b.mu.RUnlock()
	out := make(map[grouplag.PartitionID]grouplag.End, len(parts))
	for _, l := range local {
		if l.log.Leader() { // else resigned meanwhile: unknown this time
			_, hw, _ := l.log.Offsets()
			out[l.id] = grouplag.End{Topic: l.topic, HighWatermark: hw}
		}
	}
	return out, remote
}

// client returns the Kafka client, creating it.
func (s *lagSource) client() *kadm.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adm == nil {
		seed := net.JoinHostPort(s.b.cfg.AdvertisedHost, strconv.Itoa(int(s.b.cfg.AdvertisedPort)))
		// kgo.NewClient fails only on bad options; these are fixed.
		cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ClientID(fmt.Sprintf("kafscale-lag-%d", s.b.cfg.NodeID)))
		if err != nil {
			panic(fmt.Sprintf("BUG: cannot create the lag export's Kafka client: %v", err))
		}
		s.adm = kadm.NewClient(cl)
	}
	return s.adm
}

func (s *lagSource) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adm != nil {
		s.adm.Close()
	}
}
