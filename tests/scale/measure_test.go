package scale

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestMeasurePartitionMemory reports the broker's memory per partition at the partition
// counts of KAFSCALE_MEASURE_PARTITIONS (comma-separated, e.g. 1000,5000,10000), idle and
// after one small produce to each partition. It is a measurement, not a check: it runs
// only when that variable is set (docs/benchmarks.md has the command and figures).
func TestMeasurePartitionMemory(t *testing.T) {
	spec := os.Getenv("KAFSCALE_MEASURE_PARTITIONS")
	if spec == "" {
		t.Skip("set KAFSCALE_MEASURE_PARTITIONS=1000,5000,10000 to measure")
	}
	extra := strings.Fields(os.Getenv("KAFSCALE_MEASURE_FLAGS"))
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("cannot parse KAFSCALE_MEASURE_PARTITIONS %q: %v", spec, err)
		}
		t.Run(s, func(t *testing.T) { measure(t, n, extra) })
	}
}

func measure(t *testing.T, n int, extra []string) {
	ctx := t.Context()
	b := testbroker.StartPlain(t, extra...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	base := settledMemory(t, ctx, b)
	counts := topicMix(n)
	start := time.Now()
	if err := createTopics(ctx, adm, "m", counts); err != nil {
		t.Fatalf("cannot create topics: %v", err)
	}
	created := time.Since(start)
	idle := settledMemory(t, ctx, b)
	start = time.Now()
	if err := produceOneEach(ctx, b.Addr, "m", counts); err != nil {
		t.Fatalf("cannot produce: %v", err)
	}
	produced := time.Since(start)
	after := settledMemory(t, ctx, b)
	per := func(m memory) string {
		return strconvF(float64(m.RSS-base.RSS)/float64(n)) + " B RSS (" + strconvF(float64(m.Anon-base.Anon)/float64(n)) + " B anonymous), " + strconvF(float64(m.HeapInuse-base.HeapInuse)/float64(n)) + " B heap"
	}
	t.Logf("%d partitions in %d topics (created in %s, produced in %s)", n, len(counts), created.Round(time.Millisecond), produced.Round(time.Millisecond))
	t.Logf("  empty broker:   %s", base)
	t.Logf("  idle:           %s; per partition %s", idle, per(idle))
	t.Logf("  after produce:  %s; per partition %s", after, per(after))
	if fi, err := os.Stat(filepath.Join(b.DataDir, "etcd", "member", "snap", "db")); err == nil {
		t.Logf("  etcd database:  %.1f MiB", float64(fi.Size())/(1<<20))
	}
}

func strconvF(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
