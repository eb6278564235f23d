package meta

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// SeqEntry is one committed flush object of a broker incarnation.
type SeqEntry struct {
	Seq   uint64
	Entry *metapb.ObjectEntry
}

// CommitObject commits flush object e as objects/<broker>/<incarnation>/<seq>
// in one transaction of constant size (two compares, one put, or two gets):
// it succeeds only if mod_revision(fences/<broker>) == fenceRev and the key
// does not exist yet. It returns the entry that is committed under the key.
//
// Retrying after a timeout or a lost reply is safe and reuses the same seq: if
// the key already exists, an earlier attempt of this incarnation committed it
// (only this incarnation writes its keys, one seq at a time), and CommitObject
// returns that earlier entry, even if the fence moved since. The earlier entry
// may differ from e: a retry may carry a re-uploaded object's key, or a void
// list recomputed after the fence moved; the committed entry is the truth and
// the caller must act on it (its object key and void list). If the fence moved
// and the key is absent it returns an error wrapping ErrFenced that names both
// revisions.
//
// Callers commit one object at a time per broker, in flush order (DESIGN.md,
// write path step 5).
func (s *Store) CommitObject(ctx context.Context, reg *Registration, fenceRev int64, seq uint64, e *metapb.ObjectEntry) (*metapb.ObjectEntry, error) {
	start := time.Now()
	key := s.keys.Object(reg.BrokerID, reg.Incarnation, seq)
	fence := s.keys.Fence(reg.BrokerID)
	val, err := marshal(e)
	if err != nil {
		return nil, fmt.Errorf("cannot encode object entry %s: %w", key, err)
	}
	resp, err := s.kv.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(fence), "=", fenceRev),
		clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
	).Then(
		clientv3.OpPut(key, string(val)),
	).Else(
		clientv3.OpGet(fence),
		clientv3.OpGet(key),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("cannot commit object %s as %s: %w", e.GetKey(), key, err)
	}
	if resp.Succeeded {
		commitDuration.Update(msSince(start))
		return e, nil
	}
	if len(resp.Responses) != 2 {
		return nil, fmt.Errorf("BUG: commit of %s read back %d responses, want 2", key, len(resp.Responses))
	}
	fenceKVs := resp.Responses[0].GetResponseRange().GetKvs()
	objKVs := resp.Responses[1].GetResponseRange().GetKvs()
	if len(objKVs) == 1 {
		// An earlier attempt whose reply we never saw did commit.
		earlier := &metapb.ObjectEntry{}
		if err := proto.Unmarshal(objKVs[0].Value, earlier); err != nil {
			return nil, fmt.Errorf("cannot decode object entry %s committed by an earlier attempt: %w", key, err)
		}
		if earlier.Size != e.Size || earlier.FooterPos != e.FooterPos || earlier.FooterLen != e.FooterLen {
			// Every attempt of one seq uploads the same bytes; different sizes mean the
			// sequence was reused for another object.
			return nil, fmt.Errorf("BUG: cannot commit object %s as %s: the key already holds object %q of %d bytes, not %d (seq reused)",
				e.GetKey(), key, earlier.GetKey(), earlier.Size, e.Size)
		}
		commitsRecovered.Inc()
		commitDuration.Update(msSince(start))
		return earlier, nil
	}
	var current int64
	if len(fenceKVs) == 1 {
		current = fenceKVs[0].ModRevision
	}
	if current == fenceRev {
		return nil, fmt.Errorf("BUG: commit of %s failed although fence %s is at %d and the key is absent", key, fence, current)
	}
	commitsFenced.Inc()
	return nil, fmt.Errorf("cannot commit object %s as %s: fence %s moved from revision %d to %d: %w",
		e.GetKey(), key, fence, fenceRev, current, ErrFenced)
}

// CommitObjects commits several flush objects of one incarnation, entries[i] at seqs[i], in
// one transaction fenced as CommitObject fences each: the fence at fenceRev and every key
// still absent. It returns true when all were committed, false (and no error) when a
// compare failed: the fence moved or a key exists (an earlier attempt whose reply was lost
// committed it); the caller then commits them one by one with CommitObject, which tells
// those cases apart. A group commit costs one etcd round trip and one fsync for all of
// them, where one by one each waits for the previous. len(seqs) must be at most
// MaxCommitGroup.
func (s *Store) CommitObjects(ctx context.Context, reg *Registration, fenceRev int64, seqs []uint64, entries []*metapb.ObjectEntry) (bool, error) {
	if len(seqs) != len(entries) || len(seqs) == 0 || len(seqs) > s.MaxCommitGroup() {
		return false, fmt.Errorf("BUG: CommitObjects of %d seqs and %d entries (at most %d)", len(seqs), len(entries), s.MaxCommitGroup())
	}
	start := time.Now()
	fence := s.keys.Fence(reg.BrokerID)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(fence), "=", fenceRev)}
	var puts []clientv3.Op
	for i, seq := range seqs {
		key := s.keys.Object(reg.BrokerID, reg.Incarnation, seq)
		val, err := marshal(entries[i])
		if err != nil {
			return false, fmt.Errorf("cannot encode object entry %s: %w", key, err)
		}
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
		puts = append(puts, clientv3.OpPut(key, string(val)))
	}
	resp, err := s.kv.Txn(ctx).If(cmps...).Then(puts...).Commit()
	if err != nil {
		return false, fmt.Errorf("cannot commit %d objects from seq %d: %w", len(seqs), seqs[0], err)
	}
	if resp.Succeeded {
		commitDuration.Update(msSince(start))
	}
	return resp.Succeeded, nil
}

// MaxCommitGroup is the most objects CommitObjects commits in one transaction: each costs
// a compare and a put, within etcd's --max-txn-ops (Config.MaxTxnOps).
func (s *Store) MaxCommitGroup() int { return max((s.cfg.MaxTxnOps-1)/2, 1) }

// listPage bounds the keys read per range request, so a long chain never
// builds one huge response.
const listPage = 1000

// ListObjects returns the objects committed by brokerID's incarnation with seq
// >= fromSeq, in seq order. All pages are read at one revision, so the result
// is a consistent (linearizable) snapshot.
func (s *Store) ListObjects(ctx context.Context, brokerID int32, incarnation, fromSeq uint64) ([]SeqEntry, error) {
	prefix := s.keys.ObjectsPrefix(brokerID, incarnation)
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := s.keys.Object(brokerID, incarnation, fromSeq)
	var out []SeqEntry
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(s.pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.kv.Get(ctx, from, opts...)
		if err != nil {
			return nil, fmt.Errorf("cannot list objects under %s from seq %d: %w", prefix, fromSeq, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			_, _, seq, err := s.keys.ParseObject(string(kv.Key))
			if err != nil {
				return nil, err
			}
			e := &metapb.ObjectEntry{}
			if err := proto.Unmarshal(kv.Value, e); err != nil {
				return nil, fmt.Errorf("cannot decode object entry %s: %w", kv.Key, err)
			}
			out = append(out, SeqEntry{Seq: seq, Entry: e})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// DeleteObjects deletes brokerID's incarnation's object entries with seq <
// beforeSeq (GC, once no checkpoint chain needs them): one range delete,
// whatever the count, fenced on reg still being the broker's registration
// (mod_revision(brokers/<id>) == reg.Incarnation), so a replaced process,
// whose view of the checkpoints may predate the new incarnation's takeover,
// deletes nothing. A failed compare returns an error wrapping ErrFenced.
func (s *Store) DeleteObjects(ctx context.Context, reg *Registration, incarnation, beforeSeq uint64) (int64, error) {
	from := s.keys.ObjectsPrefix(reg.BrokerID, incarnation)
	to := s.keys.Object(reg.BrokerID, incarnation, beforeSeq)
	brokerKey := s.keys.Broker(reg.BrokerID)
	resp, err := s.kv.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(brokerKey), "=", int64(reg.Incarnation)),
	).Then(
		clientv3.OpDelete(from, clientv3.WithRange(to)),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("cannot delete objects %s..%s: %w", from, to, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("cannot delete objects %s..%s: %s no longer holds incarnation %d: %w", from, to, brokerKey, reg.Incarnation, ErrFenced)
	}
	return resp.Responses[0].GetResponseDeleteRange().Deleted, nil
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
