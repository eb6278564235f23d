package meta

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ClusterID returns the cluster id stored at <prefix>cluster, creating it on first use. It
// is a random 16-byte id in Kafka's URL-safe base64 form, the same for every broker sharing
// the prefix.
func (s *Store) ClusterID(ctx context.Context) (string, error) {
	key := s.keys.Root() + "cluster"
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("cannot make cluster id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	resp, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, id)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return "", fmt.Errorf("cannot read or create cluster id %s: %w", key, err)
	}
	if resp.Succeeded {
		return id, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return "", fmt.Errorf("BUG: cluster id %s vanished between compare and get", key)
	}
	return string(kvs[0].Value), nil
}
