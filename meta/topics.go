package meta

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// NewTopicID returns a random (version 4) UUID that Kafka accepts as a topic
// id: never the zero UUID, the metadata topic id (1), or one whose base64 form
// starts with '-' (Kafka's Uuid.randomUuid rules).
func NewTopicID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if !strings.HasPrefix(base64.RawURLEncoding.EncodeToString(id[:]), "-") {
			return id
		}
	}
}

// validTopicName rejects what would break the key layout; Kafka's own naming
// rules are the broker's business.
func validTopicName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("cannot use topic name %q: empty or contains '/' or NUL", name)
	}
	return nil
}

// CreateTopic creates topics/<t.Name> and adds its partitions, at leader epoch
// 0, to the assignments of their leaders, in one transaction:
// create_revision(topic) == 0 and each assignment's mod revision unchanged
// since it was read (retried on conflict). leaders names one broker for every
// partition, or a single broker for all of them. It never bumps a fence:
// adding partitions never fails commits. An empty t.Id is filled with
// NewTopicID, a zero t.CreatedUnixMs with now; t is updated in place.
// ErrTopicExists if the name is taken.
func (s *Store) CreateTopic(ctx context.Context, t *metapb.Topic, leaders ...int32) error {
	if err := validTopicName(t.Name); err != nil {
		return err
	}
	if t.Partitions <= 0 {
		return fmt.Errorf("cannot create topic %s with %d partitions: %w", t.Name, t.Partitions, ErrInvalidPartitions)
	}
	placed, err := placement(t.Name, 0, t.Partitions, leaders)
	if err != nil {
		return err
	}
	switch len(t.Id) {
	case 0:
		id := NewTopicID()
		t.Id = id[:]
	case 16:
	default:
		return fmt.Errorf("cannot create topic %s: id has %d bytes, want 16", t.Name, len(t.Id))
	}
	if t.CreatedUnixMs == 0 {
		t.CreatedUnixMs = time.Now().UnixMilli()
	}
	topicVal, err := marshal(t)
	if err != nil {
		return fmt.Errorf("cannot encode topic %s: %w", t.Name, err)
	}
	topicKey := s.keys.Topic(t.Name)
	return s.conflictRetry(ctx, "create topic "+t.Name, func() (bool, error) {
		conds, ops, err := s.assignOps(ctx, t.Id, placed)
		if err != nil {
			return false, err
		}
		resp, err := s.kv.Txn(ctx).If(
			append(conds, clientv3.Compare(clientv3.CreateRevision(topicKey), "=", 0))...,
		).Then(
			append(ops, clientv3.OpPut(topicKey, string(topicVal)))...,
		).Else(
			clientv3.OpGet(topicKey, clientv3.WithCountOnly()),
		).Commit()
		if err != nil {
			return false, fmt.Errorf("cannot create topic %s: %w", t.Name, err)
		}
		if resp.Succeeded {
			return true, nil
		}
		if resp.Responses[0].GetResponseRange().GetCount() > 0 {
			return false, fmt.Errorf("cannot create topic %s: %w", t.Name, ErrTopicExists)
		}
		return false, nil
	})
}

// placement maps each new partition [from, to) to its leader: leaders holds one broker per
// partition, or one for all.
func placement(topic string, from, to int32, leaders []int32) (map[int32][]int32, error) {
	n := to - from
	if len(leaders) != 1 && len(leaders) != int(n) {
		return nil, fmt.Errorf("BUG: %d leaders for %d new partitions of topic %s", len(leaders), n, topic)
	}
	out := make(map[int32][]int32)
	for p := from; p < to; p++ {
		l := leaders[0]
		if len(leaders) > 1 {
			l = leaders[p-from]
		}
		out[l] = append(out[l], p)
	}
	return out, nil
}

// assignOps reads the assignments of the brokers in placed and returns the compares (their
// mod revisions unchanged) and puts that add the placed partitions of topic id to them.
func (s *Store) assignOps(ctx context.Context, id []byte, placed map[int32][]int32) ([]clientv3.Cmp, []clientv3.Op, error) {
	var conds []clientv3.Cmp
	var ops []clientv3.Op
	for leader, parts := range placed {
		key := s.keys.Assignment(leader)
		a, modRev, err := s.GetAssignment(ctx, leader)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range parts {
			assignPartitions(a, id, p, p+1)
		}
		val, err := marshal(a)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot encode assignment %s: %w", key, err)
		}
		conds = append(conds, clientv3.Compare(clientv3.ModRevision(key), "=", modRev))
		ops = append(ops, clientv3.OpPut(key, string(val)))
	}
	return conds, ops, nil
}

// GetTopic returns topics/<name>, or ErrTopicNotFound.
func (s *Store) GetTopic(ctx context.Context, name string) (*metapb.Topic, error) {
	t, _, err := s.getTopic(ctx, name)
	return t, err
}

func (s *Store) getTopic(ctx context.Context, name string) (*metapb.Topic, int64, error) {
	key := s.keys.Topic(name)
	resp, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read topic %s: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("cannot read topic %s: %w", name, ErrTopicNotFound)
	}
	t, err := decodeTopic(resp.Kvs[0].Value, key)
	if err != nil {
		return nil, 0, err
	}
	return t, resp.Kvs[0].ModRevision, nil
}

// ListTopics returns every topic, ordered by name.
func (s *Store) ListTopics(ctx context.Context) ([]*metapb.Topic, error) {
	topics, _, err := s.listTopics(ctx, 0)
	return topics, err
}

// listTopics reads every topic at revision rev (0: latest) and returns the
// revision read.
func (s *Store) listTopics(ctx context.Context, rev int64) ([]*metapb.Topic, int64, error) {
	prefix := s.keys.TopicsPrefix()
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if rev != 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.kv.Get(ctx, prefix, opts...)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list topics under %s: %w", prefix, err)
	}
	out := make([]*metapb.Topic, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		t, err := decodeTopic(kv.Value, string(kv.Key))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, resp.Header.Revision, nil
}

// AddPartitions raises topic name's partition count to newCount, adding the
// new partitions at leader epoch 0 to the assignments of leaders (one per new
// partition, or one for all), in one transaction comparing the topic's and
// the assignments' mod revisions (retried on conflict). It never bumps a
// fence. Returns the updated topic; ErrInvalidPartitions unless newCount is
// larger than the current count.
func (s *Store) AddPartitions(ctx context.Context, name string, newCount int32, leaders ...int32) (*metapb.Topic, error) {
	topicKey := s.keys.Topic(name)
	var out *metapb.Topic
	err := s.conflictRetry(ctx, "add partitions to topic "+name, func() (bool, error) {
		t, topicRev, err := s.getTopic(ctx, name)
		if err != nil {
			return false, err
		}
		if newCount <= t.Partitions {
			return false, fmt.Errorf("cannot grow topic %s from %d to %d partitions: %w", name, t.Partitions, newCount, ErrInvalidPartitions)
		}
		if len(leaders) != 1 && int32(len(leaders)) != newCount-t.Partitions {
			return false, fmt.Errorf("cannot grow topic %s to %d partitions: it has %d now: %w", name, newCount, t.Partitions, ErrInvalidPartitions)
		}
		placed, err := placement(name, t.Partitions, newCount, leaders)
		if err != nil {
			return false, err
		}
		conds, ops, err := s.assignOps(ctx, t.Id, placed)
		if err != nil {
			return false, err
		}
		t.Partitions = newCount
		topicVal, err := marshal(t)
		if err != nil {
			return false, fmt.Errorf("cannot encode topic %s: %w", name, err)
		}
		resp, err := s.kv.Txn(ctx).If(
			append(conds, clientv3.Compare(clientv3.ModRevision(topicKey), "=", topicRev))...,
		).Then(
			append(ops, clientv3.OpPut(topicKey, string(topicVal)))...,
		).Commit()
		if err != nil {
			return false, fmt.Errorf("cannot add partitions to topic %s: %w", name, err)
		}
		out = t
		return resp.Succeeded, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AlterTopicConfigs replaces topic name's config overrides with what change returns from
// a copy of the current ones (retried while another change lands in between: a compare of
// the topic key's mod revision). change may refuse with an error, which is returned as is.
// Returns the topic as written, or ErrTopicNotFound.
func (s *Store) AlterTopicConfigs(ctx context.Context, name string, change func(configs map[string]string) (map[string]string, error)) (*metapb.Topic, error) {
	topicKey := s.keys.Topic(name)
	var out *metapb.Topic
	err := s.conflictRetry(ctx, "alter the configs of topic "+name, func() (bool, error) {
		t, topicRev, err := s.getTopic(ctx, name)
		if err != nil {
			return false, err
		}
		current := make(map[string]string, len(t.Configs))
		for k, v := range t.Configs {
			current[k] = v
		}
		next, err := change(current)
		if err != nil {
			return false, err
		}
		t.Configs = next
		val, err := marshal(t)
		if err != nil {
			return false, fmt.Errorf("cannot encode topic %s: %w", name, err)
		}
		resp, err := s.kv.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(topicKey), "=", topicRev)).
			Then(clientv3.OpPut(topicKey, string(val))).Commit()
		if err != nil {
			return false, fmt.Errorf("cannot alter the configs of topic %s: %w", name, err)
		}
		out = t
		return resp.Succeeded, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteTopic deletes topics/<name>, range-deletes its partitions/ and
// segments/ keys, and removes its partitions from every assignment holding
// them, bumping those brokers' fences (their partitions moved off: pending
// commits and checkpoints of the leader fail with ErrFenced, so no checkpoint
// of the deleted topic is written back). One transaction comparing the topic's
// mod revision and that no assignment changed since they were read (retried on
// conflict); its size depends on the number of leaders, not of partitions.
// Returns the deleted topic, or ErrTopicNotFound.
//
// The flush objects and objects/ entries that hold the topic's batches are
// left to merge and GC: they reference the old topic id, which is never reused.
func (s *Store) DeleteTopic(ctx context.Context, name string) (*metapb.Topic, error) {
	topicKey, assignPrefix := s.keys.Topic(name), s.keys.AssignmentsPrefix()
	var out *metapb.Topic
	err := s.conflictRetry(ctx, "delete topic "+name, func() (bool, error) {
		// One read transaction: the topic and all assignments at one revision.
		read, err := s.kv.Txn(ctx).Then(
			clientv3.OpGet(topicKey),
			clientv3.OpGet(assignPrefix, clientv3.WithPrefix()),
		).Commit()
		if err != nil {
			return false, fmt.Errorf("cannot read topic %s and assignments: %w", name, err)
		}
		topicKVs := read.Responses[0].GetResponseRange().GetKvs()
		if len(topicKVs) == 0 {
			return false, fmt.Errorf("cannot delete topic %s: %w", name, ErrTopicNotFound)
		}
		t, err := decodeTopic(topicKVs[0].Value, topicKey)
		if err != nil {
			return false, err
		}
		if len(t.Id) != 16 {
			return false, fmt.Errorf("BUG: topic %s has a %d-byte id", name, len(t.Id))
		}
		id := [16]byte(t.Id)
		ops := []clientv3.Op{
			clientv3.OpDelete(topicKey),
			clientv3.OpDelete(s.keys.TopicPartitionsPrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.keys.TopicSegmentsPrefix(id), clientv3.WithPrefix()),
		}
		for _, kv := range read.Responses[1].GetResponseRange().GetKvs() {
			a, _, err := decodeAssignment([]*mvccpb.KeyValue{kv}, string(kv.Key))
			if err != nil {
				return false, err
			}
			if !unassignTopic(a, t.Id) {
				continue
			}
			brokerID, err := s.keys.ParseAssignment(string(kv.Key))
			if err != nil {
				return false, err
			}
			val, err := marshal(a)
			if err != nil {
				return false, fmt.Errorf("cannot encode assignment %s: %w", kv.Key, err)
			}
			ops = append(ops, clientv3.OpPut(string(kv.Key), string(val)), clientv3.OpPut(s.keys.Fence(brokerID), ""))
		}
		resp, err := s.kv.Txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(topicKey), "=", topicKVs[0].ModRevision),
			// No assignment was written after our read, including new ones.
			clientv3.Compare(clientv3.ModRevision(assignPrefix), "<", read.Header.Revision+1).WithPrefix(),
		).Then(ops...).Commit()
		if err != nil {
			return false, fmt.Errorf("cannot delete topic %s: %w", name, err)
		}
		out = t
		return resp.Succeeded, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decodeTopic(val []byte, key string) (*metapb.Topic, error) {
	t := &metapb.Topic{}
	if err := proto.Unmarshal(val, t); err != nil {
		return nil, fmt.Errorf("cannot decode topic %s: %w", key, err)
	}
	return t, nil
}
