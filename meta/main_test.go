package meta

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kafscale/kafscale/meta/metapb"
)

// testEndpoints and testClient belong to the etcd server TestMain starts once
// for the package; each test works under its own key prefix.
var (
	testEndpoints []string
	testClient    *clientv3.Client
	testSeq       atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kafscale-meta-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedConfig{Dir: dir, ClientURL: "127.0.0.1:0", UnsafeNoFsync: true}, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	testEndpoints = e.Endpoints
	testClient, err = NewClient(e.Endpoints, 10*time.Second, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testClient.Close()
	return m.Run()
}

// newTestStore returns a store under a prefix of its own.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	cfg := DefaultConfig()
	// The counter keeps -count=N runs apart on the shared server.
	cfg.Prefix = fmt.Sprintf("/test/%d/%s", testSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "_"))
	return New(testClient, cfg, slog.New(slog.DiscardHandler))
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func register(t *testing.T, s *Store, brokerID int32) *Registration {
	t.Helper()
	reg, err := s.Register(testCtx(t), brokerID, "127.0.0.1", 9092, "", 0)
	if err != nil {
		t.Fatalf("cannot register broker %d: %v", brokerID, err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	return reg
}

func createTopic(t *testing.T, s *Store, name string, partitions, leader int32) *metapb.Topic {
	t.Helper()
	top := &metapb.Topic{Name: name, Partitions: partitions}
	if err := s.CreateTopic(testCtx(t), top, leader); err != nil {
		t.Fatalf("cannot create topic %s: %v", name, err)
	}
	return top
}

func entry(key string) *metapb.ObjectEntry {
	return &metapb.ObjectEntry{Key: key, Size: 4096, FooterPos: 4000, FooterLen: 96}
}

// countingKV records the shape of every transaction the store runs.
type countingKV struct {
	clientv3.KV
	mu   sync.Mutex
	txns []txnShape
	// beforeWrite, if set, runs before each transaction with compares is
	// committed: tests use it to lose races on purpose.
	beforeWrite func()
}

// txnShape is what one transaction held.
type txnShape struct {
	Cmps, Thens, Elses int
	PutBytes           int // keys and values of the puts
}

func countKV(s *Store) *countingKV {
	c := &countingKV{KV: s.kv}
	s.kv = c
	return c
}

func (c *countingKV) Txn(ctx context.Context) clientv3.Txn {
	return &countingTxn{Txn: c.KV.Txn(ctx), kv: c}
}

func (c *countingKV) reset() []txnShape {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.txns
	c.txns = nil
	return out
}

type countingTxn struct {
	clientv3.Txn
	kv    *countingKV
	shape txnShape
}

func (t *countingTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.shape.Cmps += len(cs)
	t.Txn = t.Txn.If(cs...)
	return t
}

func (t *countingTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.shape.Thens += len(ops)
	for _, op := range ops {
		if op.IsPut() {
			t.shape.PutBytes += len(op.KeyBytes()) + len(op.ValueBytes())
		}
	}
	t.Txn = t.Txn.Then(ops...)
	return t
}

func (t *countingTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.shape.Elses += len(ops)
	t.Txn = t.Txn.Else(ops...)
	return t
}

func (t *countingTxn) Commit() (*clientv3.TxnResponse, error) {
	t.kv.mu.Lock()
	t.kv.txns = append(t.kv.txns, t.shape)
	hook := t.kv.beforeWrite
	t.kv.mu.Unlock()
	if hook != nil && t.shape.Cmps > 0 {
		hook()
	}
	return t.Txn.Commit()
}

func clientv3WithPrefixCount() []clientv3.OpOption {
	return []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}
}
