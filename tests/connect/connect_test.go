// Package connect runs Kafka Connect in distributed mode against KafScale, as users run it
// (issue 15, acceptance 4): the worker (connect-runtime from Maven Central) with its
// compacted config, offset and status topics, a file source and a file sink connector
// through a worker restart, and a CDC pipeline: Debezium's PostgreSQL connector capturing
// a PostgreSQL server's inserts, updates and deletes. scripts/test-deps.sh installs the
// jars (tests/connect/pom.xml) and Debian's postgresql. Two Connect versions run: Kafka's
// newest, and the one Debezium is built for (connectRuns).
package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// connectRun is one Kafka Connect version the test runs, with the connectors it loads.
type connectRun struct {
	version      string // connect-runtime, connect-json (jvm/connect-<version>/)
	source, sink string // connector classes of the file pipeline
	// omit names the jars (by prefix) left off the worker's class path: the connectors
	// they hold do not load on this version and would only fill the log with errors.
	omit     []string
	debezium bool
}

// connectRuns are the Connect versions tested: Kafka's newest, whose worker runs the
// test's line connectors (src/), since connect-file 4.3.1 and Debezium 3.6.1 call classes
// 4.4 moved (tests/connect/pom.xml); and 4.3.1, the Connect Debezium 3.6 is built for,
// with Kafka's FileStream connectors and Debezium. scripts/test-deps.sh installs the same.
var connectRuns = []connectRun{
	{
		version: jvm.KafkaVersion,
		source:  "io.kafscale.connecttest.LineSourceConnector",
		sink:    "io.kafscale.connecttest.LineSinkConnector",
		omit:    []string{"connect-file-", "debezium-"},
	},
	{
		version:  "4.3.1",
		source:   "org.apache.kafka.connect.file.FileStreamSourceConnector",
		sink:     "org.apache.kafka.connect.file.FileStreamSinkConnector",
		debezium: true,
	},
}

// TestConnectDistributed runs, for each Connect version, one distributed worker against
// its own `kafscale dev` and, in order: checks the topics the worker created for itself;
// moves lines from a file to a topic and back to a file with a source and a sink
// connector across a SIGTERM restart of the worker; and, on the version Debezium runs on,
// streams a PostgreSQL table's changes into KafScale with Debezium, read back in order by
// a franz-go consumer.
func TestConnectDistributed(t *testing.T) {
	for _, run := range connectRuns {
		t.Run("connect-"+run.version, func(t *testing.T) {
			began := time.Now()
			p := testbroker.Start(t)
			var pg *postgres
			if run.debezium {
				pg = startPostgres(t)
			}
			w := startWorker(t, p.Addr, run)
			adm := newAdmin(t, p.Addr)

			t.Run("internal-topics", func(t *testing.T) { testInternalTopics(t, adm) })
			t.Run("file-source-sink-restart", func(t *testing.T) { testFilePipeline(t, w, adm, run, p.Addr) })
			if run.debezium {
				t.Run("debezium-postgres", func(t *testing.T) {
					if !w.running() {
						t.Fatal("the connect worker is not running (see the previous subtest)")
					}
					testDebezium(t, w, pg, p.Addr)
				})
			}
			w.stop(t)
			t.Logf("Connect %s: the whole run took %s", run.version, time.Since(began).Round(time.Millisecond))
		})
	}
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// testInternalTopics checks the worker's own topics: created by the worker with the
// partition counts of its defaults, compacted (the worker refuses to start on a topic
// that is not, but a broker could answer DescribeConfigs with what was not stored).
func testInternalTopics(t *testing.T, adm *kadm.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := map[string]int{"connect-configs": 1, "connect-offsets": 25, "connect-status": 5}
	names := []string{"connect-configs", "connect-offsets", "connect-status"}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		d, ok := details[name]
		switch {
		case !ok || d.Err != nil:
			t.Errorf("topic %s: not created (%v)", name, d.Err)
			continue
		case len(d.Partitions) != want[name]:
			t.Errorf("topic %s: %d partitions, want %d", name, len(d.Partitions), want[name])
		}
		rc, err := configs.On(name, nil)
		if err != nil || rc.Err != nil {
			t.Errorf("topic %s: DescribeConfigs: %v %v", name, err, rc.Err)
			continue
		}
		policy := ""
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				policy = *c.Value
			}
		}
		if policy != "compact" {
			t.Errorf("topic %s: cleanup.policy=%q, want compact", name, policy)
		}
		t.Logf("topic %s: %d partitions, cleanup.policy=%s", name, len(d.Partitions), policy)
	}
}

// testFilePipeline moves lines from in.txt through a topic to out.txt with run's file
// connectors, stops the worker with SIGTERM while more lines are written, starts it again
// and writes more: out.txt must then hold every line once, in order, and so must the
// topic. The source resumes from the file position stored in connect-offsets, the sink
// from its group's committed offsets.
func testFilePipeline(t *testing.T, w *worker, adm *kadm.Client, run connectRun, addr string) {
	const topic = "file-lines"
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	var lines []string
	write := func(from, to int) {
		t.Helper()
		f, err := os.OpenFile(in, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i <= to; i++ {
			line := fmt.Sprintf("line-%04d %s", i, strings.Repeat("x", i%17))
			lines = append(lines, line)
			if _, err := fmt.Fprintln(f, line); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitOut := func(what string) {
		t.Helper()
		kafkatest.WaitUntil(t, 45*time.Second, what, func() error {
			got := readLines(t, out)
			if len(got) > 0 && got[len(got)-1] == lines[len(lines)-1] || len(got) > len(lines) {
				return nil
			}
			return fmt.Errorf("out.txt has %d of %d lines", len(got), len(lines))
		})
		if got := readLines(t, out); !reflect.DeepEqual(got, lines) {
			t.Fatalf("%s: out.txt differs from in.txt: %s", what, diffLines(lines, got))
		}
	}

	write(1, 100)
	// The source first, asking for its topic as users do (topic.creation.*, KIP-158): the
	// sink's consumer would otherwise create it with the broker's defaults.
	w.putConnector(t, "file-source", map[string]string{
		"connector.class": run.source,
		"tasks.max":       "1",
		"file":            in,
		"topic":           topic,
		"topic.creation.default.replication.factor": "3",
		"topic.creation.default.partitions":         "1",
	})
	w.waitRunning(t, "file-source", 30*time.Second)
	w.putConnector(t, "file-sink", map[string]string{
		"connector.class": run.sink,
		"tasks.max":       "1",
		"file":            out,
		"topics":          topic,
	})
	w.waitRunning(t, "file-sink", 30*time.Second)
	waitOut("the first 100 lines in out.txt")
	// Offsets are flushed every second (worker_test.go); the stop flushes them again, but a
	// stop slowed down by a loaded machine may give up on that last flush, after which
	// Connect, at least once, would deliver again. So the stop comes once both are stored.
	total := 0
	for _, l := range lines {
		total += len(l) + 1
	}
	kafkatest.WaitUntil(t, 30*time.Second, "the source position and the sink offset to be stored", func() error {
		pos, off := storedPosition(t, addr, "file-source"), committedOffset(t, adm, "connect-file-sink", topic)
		if pos != int64(total) || off != int64(len(lines)) {
			return fmt.Errorf("file-source at byte %d of %d, connect-file-sink at offset %d of %d", pos, total, off, len(lines))
		}
		return nil
	})

	w.stop(t)
	// What the worker stored on its way down: the source's file position in
	// connect-offsets, the sink's group offset; the restarted worker must resume there.
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	pos, off := storedPosition(t, addr, "file-source"), committedOffset(t, adm, "connect-file-sink", topic)
	if pos != int64(size) {
		t.Errorf("connect-offsets holds position %d for file-source after SIGTERM, want %d (the bytes of 100 lines)", pos, size)
	}
	if off != int64(len(lines)) {
		t.Errorf("group connect-file-sink committed offset %d of %s after SIGTERM, want %d", off, topic, len(lines))
	}
	t.Logf("stored on SIGTERM: file-source at byte %d of in.txt, connect-file-sink at offset %d of %s", pos, off, topic)
	write(101, 150) // while the worker is down
	w.start(t)
	w.waitRunning(t, "file-source", 60*time.Second)
	w.waitRunning(t, "file-sink", 60*time.Second)
	write(151, 200)
	waitOut("all 200 lines in out.txt after the restart")

	// The topic itself holds each line once, in order (JsonConverter with schemas: the
	// line is the payload).
	var topicLines []string
	for _, r := range readTopic(t, addr, topic) {
		var env struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(r.Value, &env); err != nil {
			t.Fatalf("offset %d of %s: %q: %v", r.Offset, topic, r.Value, err)
		}
		topicLines = append(topicLines, env.Payload)
	}
	if !reflect.DeepEqual(topicLines, lines) {
		t.Fatalf("topic %s differs from in.txt: %s", topic, diffLines(lines, topicLines))
	}
	t.Logf("200 lines through %s and back, 100 before the restart, 50 while the worker was down, 50 after", topic)
}

// readTopic reads every partition of topic from its start to the end offsets it has when
// called, keys included, failing the test after 30 s.
func readTopic(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := newAdmin(t, addr)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("cannot list the end offsets of %s: %v %v", topic, err, ends.Error())
	}
	want := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading %s: partitions not read to their end: %v", topic, want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			out = append(out, r)
			if r.Offset+1 == end {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// storedPosition returns the last file position connect-offsets holds for the source
// connector (key ["<connector>",{"filename":...}], value {"position":N}), or -1.
func storedPosition(t *testing.T, addr, connector string) int64 {
	t.Helper()
	pos := int64(-1)
	for _, r := range readTopic(t, addr, "connect-offsets") {
		var key []json.RawMessage
		var name string
		if json.Unmarshal(r.Key, &key) != nil || len(key) != 2 || json.Unmarshal(key[0], &name) != nil || name != connector {
			continue
		}
		var value struct {
			Position int64 `json:"position"`
		}
		if err := json.Unmarshal(r.Value, &value); err != nil {
			t.Fatalf("connect-offsets: %s = %q: %v", r.Key, r.Value, err)
		}
		pos = value.Position
	}
	return pos
}

// committedOffset returns the offset group committed for partition 0 of topic, or -1.
func committedOffset(t *testing.T, adm *kadm.Client, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("cannot fetch the offsets of group %s: %v", group, err)
	}
	o, ok := offsets.Lookup(topic, 0)
	if !ok || o.Err != nil {
		return -1
	}
	return o.At
}

// readLines returns the lines of path, none if it does not exist yet; a last line without
// its newline is still being written and is left out.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.HasSuffix(line, "\n") {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}

// diffLines describes how got differs from want: counts, the first differing index, and
// the lines seen more than once.
func diffLines(want, got []string) string {
	first := -1
	for i := range max(len(want), len(got)) {
		if i >= len(want) || i >= len(got) || want[i] != got[i] {
			first = i
			break
		}
	}
	seen := make(map[string]int)
	var dups []string
	for _, l := range got {
		if seen[l]++; seen[l] == 2 {
			dups = append(dups, l)
		}
	}
	at := func(s []string, i int) string {
		if i < len(s) {
			return strconv.Quote(s[i])
		}
		return "(none)"
	}
	return fmt.Sprintf("%d lines, want %d; first difference at line %d: %s, want %s; duplicated: %q",
		len(got), len(want), first+1, at(got, first), at(want, first), dups)
}
