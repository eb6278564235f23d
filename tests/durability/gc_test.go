package durability

import (
	"context"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/meta"
)

// gcBound is the most flush objects, and the most objects/ entries, the idle-partition
// test allows at its end. With its settings an object is unreferenced at most merge.age +
// merge.interval (1.3 s) after its commit and deleted gc.grace (2 s) plus a GC interval
// after GC first sees it: about 4 s of flushes, ~60 objects at its ~15 flushes per second,
// while the ~30 s of writing make ~450, all of which stayed before the fix.
const gcBound = 150

// TestIdlePartitionDoesNotStopGC guards against issue 18's first scenario: a partition that
// takes no writes never merged, so its chain's first seq never advanced, and GC kept every
// later objects/ entry and flush object of the broker for ever (measured: 595 objects
// written in 60 s, none deleted), and each restart added a chain to it. A 2-partition topic
// takes writes on partition 0 only, through 5 restarts: objects and entries stay bounded,
// GC deletes, no checkpoint holds more than two chains, each takeover reads a bounded
// number of footers, and every acknowledged record is served.
func TestIdlePartitionDoesNotStopGC(t *testing.T) {
	etcdAddr := freeLoopbackAddr(t)
	p := testbroker.Start(t, "--flush-interval", "50ms", "--merge-interval", "300ms", "--merge-age", "1s",
		"--gc-interval", "300ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s", "--etcd-listen", etcdAddr,
		"--checkpoint-interval", "1s")
	const topic = "idle"
	kafkatest.CreateTopic(t, p.Addr, topic, 2)
	ledger := ackcheck.NewLedger()
	store := etcdStore(t, etcdAddr)

	for phase := range 6 {
		if phase > 0 {
			p.Term(30 * time.Second)
			p.Restart()
			if n := metric(t, p, "kafscale_takeover_footers_read_total"); n > gcBound {
				t.Errorf("restart %d: takeover read %v footers, want <= %d (it grows with what GC failed to delete)", phase, n, gcBound)
			}
		}
		cl := kafkatest.NewNonIdempotentProducer(t, p.Addr)
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
			// One partition: every record goes to partition 0, partition 1 stays idle.
			kafkatest.ProduceSync(t, cl, ledger, topic, 1, "p"+string(rune('0'+phase)), 20)
		}
		cl.Close()
		if phase == 0 || phase == 5 {
			waitMetric(t, p, "kafscale_gc_object_entries_deleted_total", 1, 30*time.Second)
			waitMetric(t, p, "kafscale_gc_objects_deleted_total", 1, 30*time.Second)
		}
	}

	// What remains must shrink to the bound once GC has caught up with the last writes.
	deadline := time.Now().Add(30 * time.Second)
	var files, entries int
	for {
		files = countFiles(t, filepath.Join(p.DataDir, "objects", "flush"))
		entries = countEntries(t, store)
		if files <= gcBound && entries <= gcBound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d flush objects and %d objects/ entries, want <= %d each", files, entries, gcBound)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cps, err := store.ListAllCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for pk, cp := range cps {
		if len(cp.Chains) > 2 {
			t.Errorf("checkpoint of partition %d holds %d chains after 5 restarts, want <= 2: %v", pk.Partition, len(cp.Chains), cp.Chains)
		}
	}
	if err := ledger.Verify(kafkatest.ReadAll(t, p.Addr, topic, 2)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records acknowledged and read back; %d flush objects and %d objects/ entries left", ledger.Len(), files, entries)
}

// metric reads one value of the broker's /metrics.
func metric(t *testing.T, p *testbroker.Process, name string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.Metrics(ctx)
	if err != nil {
		t.Fatalf("cannot read metrics: %v", err)
	}
	return kafkatest.MetricValue(m, name)
}

// etcdStore connects to the broker's embedded etcd.
func etcdStore(t *testing.T, addr string) *meta.Store {
	t.Helper()
	cli, err := meta.NewClient([]string{"http://" + addr}, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return meta.New(cli, meta.DefaultConfig(), nil)
}

// countEntries counts broker 0's objects/ entries.
func countEntries(t *testing.T, s *meta.Store) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	objs, err := s.ListBrokerObjects(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if strings.Contains(err.Error(), "no such file") {
				return nil // deleted while walking
			}
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cannot count objects under %s: %v", dir, err)
	}
	return n
}

// freeLoopbackAddr returns a loopback host:port that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
