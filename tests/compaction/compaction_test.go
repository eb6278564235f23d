// Package compaction tests log compaction (cleanup.policy=compact) end to end on a real
// `kafscale dev` broker with real clients (franz-go and librdkafka's kcat).
package compaction

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// entry is one record as a consumer sees it; value "" with null true is a tombstone.
type entry struct {
	offset int64
	key    string
	value  string
	null   bool
}

func (e entry) String() string {
	if e.null {
		return fmt.Sprintf("%d:%s=null", e.offset, e.key)
	}
	return fmt.Sprintf("%d:%s=%s", e.offset, e.key, e.value)
}

// TestCompactionKeepsTheLatestValueOfEachKey guards issue 13's acceptance 3: on a topic with
// cleanup.policy=compact, once its data is merged and compacted, a consumer reading from the
// start (franz-go and librdkafka) sees exactly the latest value of each key at the offset it
// was acknowledged at, tombstones until delete.retention.ms after their compaction and then
// none; a keyless record is refused with INVALID_RECORD; a kill -9 and a restart serve the
// same records and continue the log at its end; the compaction's reads and writes are
// counted in metrics.
func TestCompactionKeepsTheLatestValueOfEachKey(t *testing.T) {
	p := testbroker.Start(t, "--flush-interval", "20ms", "--merge-interval", "200ms", "--merge-age", "500ms",
		"--gc-interval", "300ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s", "--checkpoint-interval", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	str := func(s string) *string { return &s }
	const topic = "users"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{
		"cleanup.policy":            str("compact"),
		"min.cleanable.dirty.ratio": str("0.01"),
		"delete.retention.ms":       str("3000"),
	}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
	}

	// A compacted topic refuses a record without a key, as Kafka does.
	r := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("no key")})
	if err := r.FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("a keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}

	// 60 keys, 6 rounds of values each in batches of several records; keys 0-9 end with a
	// tombstone; a last live record ends the log so a reader knows where it ends.
	latest := map[string]entry{}
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, pr := range res {
			e := entry{offset: pr.Record.Offset, key: string(pr.Record.Key), value: string(pr.Record.Value), null: pr.Record.Value == nil}
			latest[e.key] = e
		}
	}
	for round := range 6 {
		var recs []*kgo.Record
		for k := range 60 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%02d", k), Value: fmt.Appendf(nil, "v%d-%s", round, strings.Repeat("x", 200))})
		}
		produce(recs...)
	}
	var tombs []*kgo.Record
	for k := range 10 {
		tombs = append(tombs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%02d", k)})
	}
	produce(tombs...)
	produce(&kgo.Record{Topic: topic, Key: []byte("last"), Value: []byte("end")})
	total := 6*60 + 10 + 1
	end := latest["last"].offset + 1

	want := func(withTombstones bool) []entry {
		var out []entry
		for _, e := range latest {
			if !e.null || withTombstones {
				out = append(out, e)
			}
		}
		slices.SortFunc(out, func(a, b entry) int { return int(a.offset - b.offset) })
		return out
	}
	// Compaction first keeps the tombstones (their horizon starts when it first sees them).
	var got []entry
	kafkatest.WaitUntil(t, 60*time.Second, "the log to be compacted to the latest value of each key", func() error {
		got = readAll(t, ctx, p.Addr, topic, end)
		if len(got) == len(want(true)) || len(got) == len(want(false)) {
			return nil
		}
		return fmt.Errorf("%d records read of %d produced, want %d (or %d once tombstones go)", len(got), total, len(want(true)), len(want(false)))
	})
	if len(got) == len(want(true)) {
		requireEqual(t, "franz-go, tombstones kept", got, want(true))
	}
	kafkatest.WaitUntil(t, 60*time.Second, "tombstones to be dropped after delete.retention.ms", func() error {
		got = readAll(t, ctx, p.Addr, topic, end)
		if n := len(want(false)); len(got) != n {
			return fmt.Errorf("%d records read, want %d", len(got), n)
		}
		return nil
	})
	requireEqual(t, "franz-go", got, want(false))
	requireEqual(t, "kcat", readKcat(t, ctx, p.Addr, topic), want(false))

	metrics, err := p.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"kafscale_compaction_get_bytes_total", "kafscale_compaction_put_bytes_total", "kafscale_compaction_segments_replaced_total", "kafscale_compaction_records_removed_total"} {
		if v := kafkatest.MetricValue(metrics, m); v <= 0 {
			t.Errorf("%s = %v after compaction, want > 0", m, v)
		}
	}
	t.Logf("compaction: %v records removed, %v bytes read, %v bytes written",
		kafkatest.MetricValue(metrics, "kafscale_compaction_records_removed_total"),
		kafkatest.MetricValue(metrics, "kafscale_compaction_get_bytes_total"),
		kafkatest.MetricValue(metrics, "kafscale_compaction_put_bytes_total"))

	// A takeover after kill -9 rebuilds the index of compacted segments (with their gaps)
	// and continues the log at its end.
	p.Kill()
	p.Restart()
	requireEqual(t, "franz-go after kill -9", readAll(t, ctx, p.Addr, topic, end), want(false))
	cl2, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	res := cl2.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("after"), Value: []byte("restart")})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	if o := res[0].Record.Offset; o != end {
		t.Fatalf("the first record after the restart got offset %d, want %d (the log's end)", o, end)
	}
}

// readAll reads topic partition 0 from the start up to end (whose last record, end-1, is a
// live one) with franz-go.
func readAll(t *testing.T, ctx context.Context, addr, topic string, end int64) []entry {
	t.Helper()
	return readPartition(t, ctx, addr, topic, 0, end)
}

// readPartition reads a partition from the start up to end (whose last record, end-1, is a
// live one) with franz-go.
func readPartition(t *testing.T, ctx context.Context, addr, topic string, partition int32, end int64) []entry {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out []entry
	for {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatalf("timed out reading %s up to offset %d: read %d records", topic, end, len(out))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end {
				return
			}
			out = append(out, entry{offset: r.Offset, key: string(r.Key), value: string(r.Value), null: r.Value == nil})
			done = done || r.Offset == end-1
		})
		if done {
			return out
		}
	}
}

// readKcat reads the topic from the start with kcat (librdkafka) to its end.
func readKcat(t *testing.T, ctx context.Context, addr, topic string) []entry {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (scripts/test-deps.sh installs it): %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(rctx, kcat, "-b", addr, "-t", topic, "-p", "0", "-C", "-o", "beginning", "-e", "-q",
		"-f", "%o %k %S %s\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	var got []entry
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 3 {
			t.Fatalf("kcat printed %q", line)
		}
		o, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("kcat printed %q: %v", line, err)
		}
		e := entry{offset: o, key: f[1], null: f[2] == "-1"}
		if !e.null && len(f) == 4 {
			e.value = f[3]
		}
		got = append(got, e)
	}
	return got
}

func requireEqual(t *testing.T, who string, got, want []entry) {
	t.Helper()
	if !slices.Equal(got, want) {
		n := min(len(got), len(want))
		for i := range n {
			if got[i] != want[i] {
				t.Fatalf("%s read %d records, want %d; first difference at %d: got %v, want %v", who, len(got), len(want), i, got[i], want[i])
			}
		}
		t.Fatalf("%s read %d records, want %d (first %d agree)", who, len(got), len(want), n)
	}
}
