package meta

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// ErrScramCredentialNotFound is a deletion of a SCRAM credential that does not exist.
var ErrScramCredentialNotFound = errors.New("SCRAM credential not found")

// ScramEntry names one stored SCRAM credential.
type ScramEntry struct {
	User       string
	Mechanism  string
	Iterations int32
}

// ScramCredential returns user's credential for mechanism, or nil if there is none. The
// read is linearizable, so a credential written through any broker is seen at once.
func (s *Store) ScramCredential(ctx context.Context, mechanism, user string) (*metapb.ScramCredential, error) {
	key := s.keys.Scram(mechanism, user)
	resp, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("cannot read SCRAM credential %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	c := &metapb.ScramCredential{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, c); err != nil {
		return nil, fmt.Errorf("cannot decode SCRAM credential %s: %w", key, err)
	}
	return c, nil
}

// AlterScramCredentials writes and deletes credentials of one user in one transaction
// (AlterUserScramCredentials applies a user's changes together): upserts by mechanism,
// deletes by mechanism. If a credential to delete does not exist nothing is changed and
// the error wraps ErrScramCredentialNotFound.
func (s *Store) AlterScramCredentials(ctx context.Context, user string, upserts map[string]*metapb.ScramCredential, deletes []string) error {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, m := range deletes {
		key := s.keys.Scram(m, user)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), ">", 0))
		ops = append(ops, clientv3.OpDelete(key))
	}
	for m, c := range upserts {
		v, err := proto.Marshal(c)
		if err != nil {
			return fmt.Errorf("cannot encode SCRAM credential of %q: %w", user, err)
		}
		ops = append(ops, clientv3.OpPut(s.keys.Scram(m, user), string(v)))
	}
	resp, err := s.kv.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("cannot alter SCRAM credentials of %q: %w", user, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("cannot delete SCRAM credentials %v of %q: %w", deletes, user, ErrScramCredentialNotFound)
	}
	return nil
}

// ListScramCredentials returns every stored SCRAM credential's user, mechanism and
// iterations, ordered by mechanism then user.
func (s *Store) ListScramCredentials(ctx context.Context) ([]ScramEntry, error) {
	prefix := s.keys.ScramPrefix()
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cannot list SCRAM credentials under %s: %w", prefix, err)
	}
	out := make([]ScramEntry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		m, u, err := s.keys.ParseScram(string(kv.Key))
		if err != nil {
			return nil, err
		}
		c := &metapb.ScramCredential{}
		if err := proto.Unmarshal(kv.Value, c); err != nil {
			return nil, fmt.Errorf("cannot decode SCRAM credential %s: %w", kv.Key, err)
		}
		out = append(out, ScramEntry{User: u, Mechanism: m, Iterations: c.GetIterations()})
	}
	return out, nil
}
