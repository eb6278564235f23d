package meta

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/meta/metapb"
)

// TopicEventKind says what a TopicEvent carries.
type TopicEventKind int

const (
	// TopicSnapshot carries every topic at Revision in Topics: the receiver
	// replaces its whole view. It is always the first event, and is sent again
	// whenever the watch had to restart (etcd compacted past it, lost its
	// leader, or an error).
	TopicSnapshot TopicEventKind = iota + 1
	// TopicPut carries a created or changed topic in Topic.
	TopicPut
	// TopicDeleted carries the deleted topic's last value in Topic (nil if
	// etcd no longer had it).
	TopicDeleted
)

// TopicEvent is one change to the topics, in revision order.
type TopicEvent struct {
	Kind     TopicEventKind
	Revision int64
	Topics   []*metapb.Topic // TopicSnapshot only
	Name     string          // TopicPut and TopicDeleted
	Topic    *metapb.Topic   // TopicPut and TopicDeleted
}

// WatchTopics reports topic changes made by any process: first a snapshot,
// then every put and delete after it, in revision order. It retries by itself
// (logging) while etcd is unreachable and restarts with a fresh snapshot when
// it cannot resume. The channel is unbuffered and closed after ctx ends; the
// goroutine that feeds it is owned by the call and exits with ctx.
func (s *Store) WatchTopics(ctx context.Context) <-chan TopicEvent {
	out := make(chan TopicEvent)
	go func() {
		defer close(out)
		backoff := time.Duration(0)
		for ctx.Err() == nil {
			if backoff > 0 && !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			topics, rev, err := s.listTopics(ctx, 0)
			if err != nil {
				s.log.Warn("cannot list topics for the topic watch; retrying", "err", err)
				continue
			}
			if !send(ctx, out, TopicEvent{Kind: TopicSnapshot, Revision: rev, Topics: topics}) {
				return
			}
			if s.watchTopicsFrom(ctx, rev+1, out) {
				backoff = 0 // the watch ran; resume quickly
			}
		}
	}()
	return out
}

// watchTopicsFrom forwards topic events from revision rev until the watch
// ends; it reports whether any response arrived.
func (s *Store) watchTopicsFrom(ctx context.Context, rev int64, out chan<- TopicEvent) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	prefix := s.keys.TopicsPrefix()
	got := false
	for wr := range s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev), clientv3.WithPrevKV()) {
		got = true
		if wr.CompactRevision != 0 {
			s.log.Warn("topic watch fell behind compaction; taking a new snapshot",
				"from", rev, "compact_revision", wr.CompactRevision)
			return got
		}
		if err := wr.Err(); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("topic watch failed; taking a new snapshot", "err", err)
			}
			return got
		}
		for _, ev := range wr.Events {
			name, err := s.keys.ParseTopic(string(ev.Kv.Key))
			if err != nil {
				s.log.Error("ignoring unexpected key under topics/", "err", err)
				continue
			}
			te := TopicEvent{Kind: TopicPut, Revision: ev.Kv.ModRevision, Name: name}
			val := ev.Kv.Value
			if ev.Type == mvccpb.DELETE {
				te.Kind, val = TopicDeleted, nil
				if ev.PrevKv != nil {
					val = ev.PrevKv.Value
				}
			}
			if val != nil {
				t, err := decodeTopic(val, string(ev.Kv.Key))
				if err != nil {
					s.log.Error("ignoring undecodable topic", "err", err)
					continue
				}
				te.Topic = t
			}
			if !send(ctx, out, te) {
				return got
			}
			rev = ev.Kv.ModRevision + 1
		}
	}
	return got
}

func send(ctx context.Context, out chan<- TopicEvent, ev TopicEvent) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
