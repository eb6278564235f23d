package meta

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/meta/metapb"
)

// LoadPrefix is where brokers report the recent bytes in of the partitions they lead:
// load/<broker-id>, bound to the broker's session lease, so that a gone broker's report
// goes with it. Only the controller reads them, and not through the cluster watch: a
// report every interval from every broker would wake every broker that often.
func (k Keys) LoadPrefix() string { return k.root + "load/" }

// PutLoad writes broker id's load report, bound to lease (its registration's).
func (s *Store) PutLoad(ctx context.Context, id int32, lease clientv3.LeaseID, load *metapb.BrokerLoad) error {
	b, err := proto.Marshal(load)
	if err != nil {
		return fmt.Errorf("cannot encode the load report of broker %d: %w", id, err)
	}
	key := s.keys.LoadPrefix() + strconv.Itoa(int(id))
	if _, err := s.kv.Put(ctx, key, string(b), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("cannot write %s: %w", key, err)
	}
	return nil
}

// ReadLoads returns every broker's latest load report by broker id.
func (s *Store) ReadLoads(ctx context.Context) (map[int32]*metapb.BrokerLoad, error) {
	resp, err := s.kv.Get(ctx, s.keys.LoadPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cannot read the load reports: %w", err)
	}
	out := make(map[int32]*metapb.BrokerLoad, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		id, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), s.keys.LoadPrefix()), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("cannot parse the load report key %s: %w", kv.Key, err)
		}
		l := &metapb.BrokerLoad{}
		if err := proto.Unmarshal(kv.Value, l); err != nil {
			return nil, fmt.Errorf("cannot decode the load report %s: %w", kv.Key, err)
		}
		out[int32(id)] = l
	}
	return out, nil
}
