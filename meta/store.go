// Package meta is KafScale's metadata store in etcd: topics, partition
// checkpoints, committed flush objects, fences, assignments and broker
// registrations, encoded with the protobuf schema kafscale.metadata.v1
// (metadata.proto, generated into metapb). The key layout is in keys.go.
//
// Every operation is a constant number of etcd operations whatever the number
// of partitions involved, except PutCheckpoints, which writes one key per
// checkpoint in batches of Config.MaxTxnOps.
package meta

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kafscale/kafscale/internal/histbuckets"
	"github.com/kafscale/kafscale/meta/metapb"
)

var (
	// ErrFenced means the broker's fence moved: another incarnation registered,
	// or a partition moved off the broker or changed epoch there. The caller
	// must re-read its assignment before committing again.
	ErrFenced = errors.New("fenced")
	// ErrReplaced means another process registered the broker id: this one must stop.
	ErrReplaced = errors.New("another process registered this broker id")
	// ErrTopicExists is returned by CreateTopic for a name already in use.
	ErrTopicExists = errors.New("topic already exists")
	// ErrTopicNotFound is returned for a topic name that does not exist.
	ErrTopicNotFound = errors.New("topic not found")
	// ErrInvalidPartitions is returned for a partition count that is not
	// positive, or not larger than the current one in AddPartitions.
	ErrInvalidPartitions = errors.New("invalid partition count")
)

var (
	// In milliseconds (the seed's name); a Prometheus histogram, exported from the start.
	commitDuration   = metrics.NewPrometheusHistogramExt(`kafscale_etcd_commit_duration_ms`, histbuckets.Milliseconds)
	commitsFenced    = metrics.NewCounter(`kafscale_etcd_commits_fenced_total`)
	commitsRecovered = metrics.NewCounter(`kafscale_etcd_commits_recovered_total`)
	txnConflicts     = metrics.NewCounter(`kafscale_etcd_txn_conflicts_total`)
)

// Config holds the store's settings.
type Config struct {
	// Prefix is the root of every key (default DefaultPrefix).
	Prefix string
	// SessionTTL is the broker session lease's time to live (default 10s).
	// A broker that cannot reach etcd for this long loses its session.
	SessionTTL time.Duration
	// MaxTxnOps bounds the operations of one PutCheckpoints transaction
	// (default 100; etcd's --max-txn-ops defaults to 128).
	MaxTxnOps int
	// MaxConflictRetries bounds the retries of read-modify-write transactions
	// that lose a race on a compare (default 100).
	MaxConflictRetries int
}

// DefaultConfig returns the default settings.
func DefaultConfig() Config {
	return Config{
		Prefix: DefaultPrefix,
		// A killed broker's partitions move once its lease expires: 4 s keeps failover
		// within 5 s (issue 12; docs/cluster.md), and leaves keepalives (every TTL/3) a
		// second of slack inside the window a broker trusts its lease (TTL*3/4).
		SessionTTL:         4 * time.Second,
		MaxTxnOps:          100,
		MaxConflictRetries: 100,
	}
}

// Store reads and writes KafScale metadata in etcd. It holds no state besides
// the client and is safe for concurrent use.
type Store struct {
	cli  *clientv3.Client
	kv   clientv3.KV // cli.KV; tests swap in a counting wrapper
	keys Keys
	cfg  Config
	log  *slog.Logger
	// pageSize bounds the keys per range request (listPage; tests lower it).
	pageSize int64
}

// New returns a store on cli. Zero fields of cfg take their defaults.
func New(cli *clientv3.Client, cfg Config, log *slog.Logger) *Store {
	def := DefaultConfig()
	if cfg.Prefix == "" {
		cfg.Prefix = def.Prefix
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = def.SessionTTL
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = def.MaxTxnOps
	}
	if cfg.MaxConflictRetries <= 0 {
		cfg.MaxConflictRetries = def.MaxConflictRetries
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{cli: cli, kv: cli.KV, keys: NewKeys(cfg.Prefix), cfg: cfg, log: log, pageSize: listPage}
}

// Keys returns the store's key builder.
func (s *Store) Keys() Keys { return s.keys }

// Client returns the etcd client the store uses.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Alarms returns the active etcd alarms ("NOSPACE", "CORRUPT"), deduplicated
// and sorted; empty when none. A NOSPACE alarm means etcd refuses writes until
// it is compacted, defragmented and disarmed: the broker must report not-ready.
func (s *Store) Alarms(ctx context.Context) ([]string, error) {
	resp, err := s.cli.AlarmList(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list etcd alarms: %w", err)
	}
	var out []string
	for _, a := range resp.Alarms {
		name := a.Alarm.String()
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ListBrokers returns the registered brokers ordered by id, with Incarnation
// filled from the key's mod revision (the registering transaction's revision).
func (s *Store) ListBrokers(ctx context.Context) ([]*metapb.Broker, error) {
	prefix := s.keys.BrokersPrefix()
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cannot list brokers under %s: %w", prefix, err)
	}
	out := make([]*metapb.Broker, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		b := &metapb.Broker{}
		if err := proto.Unmarshal(kv.Value, b); err != nil {
			return nil, fmt.Errorf("cannot decode broker %s: %w", kv.Key, err)
		}
		b.Incarnation = uint64(kv.ModRevision)
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b *metapb.Broker) int { return cmp.Compare(a.Id, b.Id) })
	return out, nil
}

// marshal encodes m deterministically: CommitObject compares a retry's bytes
// with what an earlier attempt stored.
func marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// conflictRetry runs attempt until it reports done, at most
// cfg.MaxConflictRetries times; attempt returns done=false when a compare lost
// a race and the read must be redone.
func (s *Store) conflictRetry(ctx context.Context, what string, attempt func() (done bool, err error)) error {
	for i := 0; i < s.cfg.MaxConflictRetries; i++ {
		done, err := attempt()
		if err != nil || done {
			return err
		}
		txnConflicts.Inc()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot %s: %w", what, err)
		}
	}
	return fmt.Errorf("cannot %s: still conflicting after %d attempts", what, s.cfg.MaxConflictRetries)
}
