package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// ClusterState is the cluster's membership and partition leadership read at one revision:
// brokers/ (live brokers, each with its incarnation), assignments/ (the partitions each
// broker id leads, with leader epochs) and the controller election.
type ClusterState struct {
	// Revision is the etcd revision the state was read at.
	Revision int64
	// Brokers are the registered (live) brokers by id.
	Brokers map[int32]*metapb.Broker
	// Assignments are assignments/<id> by broker id, live or not.
	Assignments map[int32]*metapb.Assignment
	// AssignmentRevs are the assignments' mod revisions (0: absent), for compares.
	AssignmentRevs map[int32]int64
	// Controller is the id of the elected controller, -1 when none is.
	Controller int32
	// Draining are the brokers being drained: the controller moves their partitions and
	// coordinator slots away and places nothing new on them.
	Draining map[int32]bool
}

// DrainingPrefix is where drain marks live: draining/<broker-id>.
func (k Keys) DrainingPrefix() string { return k.root + "draining/" }

// SetDraining marks broker id as draining (on) or clears the mark.
func (s *Store) SetDraining(ctx context.Context, id int32, on bool) error {
	key := s.keys.DrainingPrefix() + strconv.Itoa(int(id))
	var err error
	if on {
		_, err = s.kv.Put(ctx, key, "")
	} else {
		_, err = s.kv.Delete(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("cannot set drain mark %s to %v: %w", key, on, err)
	}
	return nil
}

// ControllerPrefix is the election prefix under which brokers campaign to be controller.
func (k Keys) ControllerPrefix() string { return k.root + "controller/" }

// ReadCluster reads brokers/, assignments/ and the controller election in one transaction.
func (s *Store) ReadCluster(ctx context.Context) (*ClusterState, error) {
	resp, err := s.kv.Txn(ctx).Then(
		clientv3.OpGet(s.keys.BrokersPrefix(), clientv3.WithPrefix()),
		clientv3.OpGet(s.keys.AssignmentsPrefix(), clientv3.WithPrefix()),
		clientv3.OpGet(s.keys.ControllerPrefix(), clientv3.WithPrefix(),
			clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(1)),
		clientv3.OpGet(s.keys.DrainingPrefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("cannot read the cluster state: %w", err)
	}
	st := &ClusterState{Revision: resp.Header.Revision, Brokers: make(map[int32]*metapb.Broker),
		Assignments: make(map[int32]*metapb.Assignment), AssignmentRevs: make(map[int32]int64), Controller: -1,
		Draining: make(map[int32]bool)}
	for _, kv := range resp.Responses[3].GetResponseRange().GetKvs() {
		if id, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), s.keys.DrainingPrefix()), 10, 32); err == nil {
			st.Draining[int32(id)] = true
		}
	}
	for _, kv := range resp.Responses[0].GetResponseRange().GetKvs() {
		b := &metapb.Broker{}
		if err := proto.Unmarshal(kv.Value, b); err != nil {
			return nil, fmt.Errorf("cannot decode broker %s: %w", kv.Key, err)
		}
		b.Incarnation = uint64(kv.ModRevision)
		st.Brokers[b.Id] = b
	}
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		id, err := s.keys.ParseAssignment(string(kv.Key))
		if err != nil {
			return nil, err
		}
		a := &metapb.Assignment{}
		if err := proto.Unmarshal(kv.Value, a); err != nil {
			return nil, fmt.Errorf("cannot decode assignment %s: %w", kv.Key, err)
		}
		st.Assignments[id], st.AssignmentRevs[id] = a, kv.ModRevision
	}
	if kvs := resp.Responses[2].GetResponseRange().GetKvs(); len(kvs) == 1 {
		if id, err := strconv.ParseInt(string(kvs[0].Value), 10, 32); err == nil {
			st.Controller = int32(id)
		}
	}
	return st, nil
}

// Leaders returns every assigned partition's leader broker and epoch.
func (st *ClusterState) Leaders() map[PartitionKey]LeaderRef {
	out := make(map[PartitionKey]LeaderRef)
	for id, a := range st.Assignments {
		for _, r := range a.GetPartitions() {
			out[PartitionKey{TopicID: [16]byte(r.TopicId), Partition: r.Partition}] = LeaderRef{Broker: id, Epoch: r.LeaderEpoch}
		}
	}
	return out
}

// LeaderRef is a partition's assigned leader.
type LeaderRef struct {
	Broker int32
	Epoch  int32
}

// WatchCluster sends the cluster state now and again after every change to brokers/,
// assignments/ or the controller election (changes in a burst are read once). It retries
// by itself (logging) while etcd is unreachable. The channel holds the latest state only
// (a slow receiver skips intermediate ones) and is closed after ctx ends; the goroutine
// that feeds it is owned by the call and exits with ctx.
func (s *Store) WatchCluster(ctx context.Context) <-chan *ClusterState {
	out := make(chan *ClusterState, 1)
	go func() {
		defer close(out)
		backoff := time.Duration(0)
		for ctx.Err() == nil {
			if backoff > 0 && !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			st, err := s.ReadCluster(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("cannot read the cluster state; retrying", "err", err)
				}
				continue
			}
			publish(out, st)
			if err := s.waitClusterChange(ctx, st.Revision); err == nil {
				backoff = 0
				// Changes come in bursts (a CreateTopics of many topics): read once for
				// the burst rather than once per change.
				if !sleepCtx(ctx, 20*time.Millisecond) {
					return
				}
			} else if ctx.Err() == nil {
				s.log.Warn("cluster watch failed; reading the state again", "err", err)
			}
		}
	}()
	return out
}

// publish replaces what out holds with st (out has capacity 1 and one sender).
func publish(out chan *ClusterState, st *ClusterState) {
	select {
	case <-out:
	default:
	}
	out <- st
}

// waitClusterChange returns nil once anything under brokers/, assignments/ or the election
// prefix changed after rev, or the error that ended the watch.
func (s *Store) waitClusterChange(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	changed := make(chan error, 4)
	for _, prefix := range []string{s.keys.BrokersPrefix(), s.keys.AssignmentsPrefix(), s.keys.ControllerPrefix(), s.keys.DrainingPrefix()} {
		wch := s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		go func() {
			for wr := range wch {
				if err := wr.Err(); err != nil {
					changed <- err
					return
				}
				if len(wr.Events) > 0 {
					changed <- nil
					return
				}
			}
			changed <- errors.New("watch closed")
		}()
	}
	select {
	case err := <-changed:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Move is one partition moving to another leader (From -1: placed for the first time).
type Move struct {
	TopicID   [16]byte
	Partition int32
	From, To  int32
}

// MovePartitions moves partitions between brokers' assignments, each at its leader epoch
// plus one, in one transaction that compares the controller's election key (create
// revision electionRev) and the mod revision of every assignment read in st, and bumps the
// fence of every broker losing a partition, so its in-flight commits of those partitions
// are voided (DESIGN.md, "Cluster"). It returns ErrNotController when the election key is
// gone or another's, and false with no error when an assignment changed since st (read
// the state again).
func (s *Store) MovePartitions(ctx context.Context, electionKey string, electionRev int64, st *ClusterState, moves []Move) (bool, error) {
	touched := make(map[int32]*metapb.Assignment)
	get := func(id int32) *metapb.Assignment {
		if a, ok := touched[id]; ok {
			return a
		}
		a := &metapb.Assignment{}
		if cur := st.Assignments[id]; cur != nil {
			a = proto.Clone(cur).(*metapb.Assignment)
		}
		touched[id] = a
		return a
	}
	losers := make(map[int32]bool)
	for _, m := range moves {
		if m.From < 0 {
			// A new slot or partition: placed at epoch 0, nobody loses it.
			to := get(m.To)
			to.Partitions = append(to.Partitions, &metapb.PartitionRef{TopicId: m.TopicID[:], Partition: m.Partition})
			continue
		}
		from := get(m.From)
		var epoch int32 = -1
		for i, r := range from.Partitions {
			if [16]byte(r.TopicId) == m.TopicID && r.Partition == m.Partition {
				epoch = r.LeaderEpoch
				from.Partitions = append(from.Partitions[:i], from.Partitions[i+1:]...)
				break
			}
		}
		if epoch < 0 {
			return false, fmt.Errorf("BUG: cannot move partition %d of topic %x: broker %d does not lead it", m.Partition, m.TopicID, m.From)
		}
		to := get(m.To)
		to.Partitions = append(to.Partitions, &metapb.PartitionRef{TopicId: m.TopicID[:], Partition: m.Partition, LeaderEpoch: epoch + 1})
		losers[m.From] = true
	}
	conds := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(electionKey), "=", electionRev)}
	var ops []clientv3.Op
	for id, a := range touched {
		key := s.keys.Assignment(id)
		sortPartitionRefs(a)
		val, err := marshal(a)
		if err != nil {
			return false, fmt.Errorf("cannot encode assignment %s: %w", key, err)
		}
		conds = append(conds, clientv3.Compare(clientv3.ModRevision(key), "=", st.AssignmentRevs[id]))
		ops = append(ops, clientv3.OpPut(key, string(val)))
		if losers[id] {
			ops = append(ops, clientv3.OpPut(s.keys.Fence(id), ""))
		}
	}
	resp, err := s.kv.Txn(ctx).If(conds...).Then(ops...).Else(
		clientv3.OpGet(electionKey, clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return false, fmt.Errorf("cannot move %d partitions: %w", len(moves), err)
	}
	if resp.Succeeded {
		return true, nil
	}
	if resp.Responses[0].GetResponseRange().GetCount() == 0 {
		return false, fmt.Errorf("cannot move %d partitions: election key %s is gone: %w", len(moves), electionKey, ErrNotController)
	}
	return false, nil
}

// ErrNotController means this broker's controller election ended.
var ErrNotController = errors.New("not the controller")

func sortPartitionRefs(a *metapb.Assignment) { slices.SortFunc(a.Partitions, comparePartitionRefs) }

// GroupSlotsTopicID names the group coordinator slots in assignments/: slot s is "partition
// s" of this reserved id, so the controller places, moves and fences coordinator slots as
// it does partitions (DESIGN.md, "Cluster"). Its version nibble is 0, so no topic id
// (random, version 4) is ever equal to it.
var GroupSlotsTopicID = [16]byte{15: 0x02}

// GroupSlots is the number of group coordinator slots (Kafka's offsets.topic.num.partitions
// default).
const GroupSlots = 50
