// Package flink runs the user guide's Flink job against KafScale, as users run it (issue
// 15, acceptance 5): KafkaSource -> map -> KafkaSink at least once, on Flink's local mini
// cluster, with checkpoints retained in a folder, killed and restored from its last
// checkpoint. scripts/test-deps.sh installs the jars (tests/flink/pom.xml) into the
// project's cache folder; the test compiles the job (src/) against them with javac.
package flink

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// flinkVersion is the Flink tested, with flink-connector-kafka 5.0.0-2.2 (tests/flink/pom.xml);
// scripts/test-deps.sh installs the same into jvm/flink-<version>/.
const flinkVersion = "2.2.1"

// orderJobMain is the job (src/io/kafscale/flinktest/OrderJob.java).
const orderJobMain = "io.kafscale.flinktest.OrderJob"

const (
	input      = "orders"
	output     = "orders-processed"
	group      = "flink-orders"
	partitions = 3
	part       = 2000 // orders per part of the input
)

// TestFlinkAtLeastOnceRestoresFromCheckpoint runs the job with checkpoints every 500 ms:
//
//   - run 1 reads the first part of the input; once every order of it is in the output,
//     the test waits for a checkpoint triggered after that (so it holds source offsets past
//     the whole first part), writes the second part, and kills the JVM with SIGKILL as soon
//     as the output holds some of it: mid-stream, with records emitted after the last
//     checkpoint;
//   - the third part is written while no job runs; run 2 restores the newest retained
//     checkpoint that is surely complete (restorableCheckpoint) through
//     execution.state-recovery.path, and runs until the output holds every order and the
//     group's offsets are committed to the input's end.
//
// At least once: every order's mapped value must be in the output, duplicates allowed.
// Restored, not restarted: the source starts from the earliest offset when it has no
// state, so run 2 must write fewer records than the input holds and none of the first
// part, whose offsets the restored checkpoint holds. Flink's source commits its
// checkpointed offsets to the group, which must end at the input's end.
func TestFlinkAtLeastOnceRestoresFromCheckpoint(t *testing.T) {
	t.Parallel() // two JVM start-ups: run beside the exactly-once test
	began := time.Now()
	p := testbroker.Start(t)
	kafkatest.CreateTopic(t, p.Addr, input, partitions)
	kafkatest.CreateTopic(t, p.Addr, output, partitions)
	cp := jvm.Compile(t, "src", jvm.Deps(t, "flink-"+flinkVersion))
	checkpoints := t.TempDir()
	writeOrders(t, p.Addr, 0, part)

	run1 := startJob(t, cp, p.Addr, checkpoints, "1", "AT_LEAST_ONCE", "")
	waitOutput(t, run1, p.Addr, "run 1 to write the whole first part", func(o outputState) bool { return o.byRun["1"] >= part })
	first := newestCheckpoint(t, checkpoints)
	var covering checkpoint
	kafkatest.WaitFor(t, 30*time.Second, fmt.Sprintf("a checkpoint after %d", first.id+1), func() bool {
		covering = newestCheckpoint(t, checkpoints)
		return covering.id >= first.id+2
	})
	t.Logf("run 1: the first part written and checkpoint %d completed after it, %.1fs after the start", covering.id, time.Since(began).Seconds())

	writeOrders(t, p.Addr, part, part)
	// Kill as soon as the output grows: watching its end offsets is quicker than reading it.
	watch, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	kafkatest.WaitFor(t, 60*time.Second, "run 1 to write some of the second part", func() bool {
		run1.failIfExited(t)
		return topicSize(t, watch, output) > part
	})
	run1.kill(t)
	writeOrders(t, p.Addr, 2*part, part)
	restore := restorableCheckpoint(t, checkpoints, covering)
	t.Logf("run 1 killed; restoring checkpoint %d (%s)", restore.id, restore.dir)

	run2 := startJob(t, cp, p.Addr, checkpoints, "2", "AT_LEAST_ONCE", restore.dir)
	waitOutput(t, run2, p.Addr, "every order in the output", func(o outputState) bool { return len(o.missing) == 0 })
	// Offsets are committed once a checkpoint completes, and the sink flushes its writes
	// before: committed to the end, run 2 has written all it will. This takes about 10 s:
	// the source's fetcher thread runs the commit only once its consumer's poll returns,
	// and on a partition with nothing more to read that poll waits for its full 10 s
	// (KafkaPartitionSplitReader's POLL_TIMEOUT), against any broker.
	kafkatest.WaitUntil(t, 30*time.Second, "the group's offsets committed to the input's end", func() error {
		run2.failIfExited(t)
		return committedToEnd(p.Addr)
	})
	run2.kill(t)
	total := 3 * part
	out := readOutput(t, p.Addr, total)
	if len(out.missing) > 0 {
		t.Fatalf("BUG: %d orders missing from the output after they were all seen, such as %s", len(out.missing), out.missing[0])
	}
	if n := out.byRun["2"]; n >= total {
		t.Errorf("run 2 wrote %d records for an input of %d: it read the input from the start, not from checkpoint %d", n, total, restore.id)
	}
	if len(out.firstPartBy2) > 0 {
		t.Errorf("run 2 wrote %d orders of the first part again (such as %s), which checkpoint %d had read past",
			len(out.firstPartBy2), out.firstPartBy2[0], restore.id)
	}
	if out.notIdem > 0 {
		t.Errorf("%d output records were written by a producer that is not idempotent: the sink's producer should run with the Kafka client's defaults", out.notIdem)
	}
	t.Logf("every order in the output: run 1 wrote %d records, run 2 %d (%d orders written by both runs, as at least once allows); %.1fs in all",
		out.byRun["1"], out.byRun["2"], out.duplicates, time.Since(began).Seconds())
}

// TestFlinkExactlyOnceFails runs the same job with DeliveryGuarantee.EXACTLY_ONCE, whose
// sink writes in Kafka transactions. KafScale has none (InitProducerId with a
// transactional id is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED), so the job must
// fail at its start with that error, having written nothing, rather than run without the
// guarantee it asked for. docs/compatibility.md quotes what it reports.
func TestFlinkExactlyOnceFails(t *testing.T) {
	t.Parallel()
	p := testbroker.Start(t)
	kafkatest.CreateTopic(t, p.Addr, input, partitions)
	kafkatest.CreateTopic(t, p.Addr, output, partitions)
	cp := jvm.Compile(t, "src", jvm.Deps(t, "flink-"+flinkVersion))
	writeOrders(t, p.Addr, 0, 100)
	run := startJob(t, cp, p.Addr, t.TempDir(), "eos", "EXACTLY_ONCE", "")
	select {
	case <-run.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the EXACTLY_ONCE job still runs after 60 s:\n%s", run.log.Tail(16<<10))
	}
	if code := run.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("the EXACTLY_ONCE job exited with %d, want 1 (failed)", code)
	}
	const want = "FAILED org.apache.kafka.common.errors.TransactionalIdAuthorizationException: Transactional Id authorization failed."
	if log := run.log.Tail(1 << 30); !strings.Contains(log, want) {
		t.Errorf("the EXACTLY_ONCE job did not print %q:\n%s", want, run.log.Tail(16<<10))
	}
	for line := range strings.Lines(run.log.Tail(1 << 30)) {
		if strings.HasPrefix(line, "FAILED ") || strings.HasPrefix(line, "Caused by: ") || strings.Contains(line, "Exception: ") && !strings.HasPrefix(line, "\t") {
			t.Logf("the EXACTLY_ONCE job: %s", strings.TrimSpace(line))
		}
	}
	if n := len(kafkatest.ReadAll(t, p.Addr, output, partitions)); n != 0 {
		t.Errorf("the EXACTLY_ONCE job wrote %d records to %s, want none", n, output)
	}
}

// orderName is order i of the input; the job writes mapped(orderName(i)).
func orderName(i int) string { return fmt.Sprintf("order-%05d", i) }

// mapped is what the job's map step (OrderJob.ProcessOrder) makes of an order.
func mapped(order string) string { return "processed:" + strings.ToUpper(order) }

// writeOrders writes orders [from, from+n) to the input, with the Kafka client's defaults
// (idempotent, acks=all), keyless, one partition after the other: each of the job's two
// source readers gets data.
func writeOrders(t *testing.T, addr string, from, n int) {
	t.Helper()
	cl := kafkatest.NewIdempotentProducer(t, addr, kgo.DefaultProduceTopic(input), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	defer cl.Close()
	records := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		records = append(records, kgo.StringRecord(orderName(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("cannot write orders %d..%d: %v", from, from+n-1, err)
	}
}

// outputState is what the output topic holds.
type outputState struct {
	byRun        map[string]int // records written by each run (header flink-run)
	missing      []string       // orders written to the input whose mapped value is not in the output
	firstPartBy2 []string       // orders of the first part that run 2 wrote
	duplicates   int            // orders in the output more than once
	notIdem      int            // records written by a producer that is not idempotent
}

// readOutput reads the output topic to its end and compares it with the input, whose
// first end orders were written.
func readOutput(t *testing.T, addr string, end int) outputState {
	t.Helper()
	o := outputState{byRun: make(map[string]int)}
	seen := make(map[string]int)
	for _, r := range readWithHeaders(t, addr) {
		o.byRun[r.run]++
		if r.producerID < 0 {
			o.notIdem++
		}
		seen[r.value]++
		if r.run == "2" && r.value < mapped(orderName(part)) {
			o.firstPartBy2 = append(o.firstPartBy2, r.value)
		}
	}
	for i := range end {
		n := seen[mapped(orderName(i))]
		if n == 0 {
			o.missing = append(o.missing, orderName(i))
		}
		if n > 1 {
			o.duplicates++
		}
	}
	return o
}

// waitOutput reads the output until cond holds for it, for up to 60 s, and returns it. It
// fails the test at once if run, the job writing it, exits. The output is read again only
// when its end offsets or the input's have moved.
func waitOutput(t *testing.T, run *jobRun, addr, what string, cond func(outputState) bool) outputState {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var last outputState
	lastSizes := [2]int{-1, -1}
	kafkatest.WaitUntil(t, 60*time.Second, what, func() error {
		run.failIfExited(t)
		sizes := [2]int{topicSize(t, cl, input), topicSize(t, cl, output)}
		if sizes != lastSizes {
			last, lastSizes = readOutput(t, addr, sizes[0]), sizes
		}
		if cond(last) {
			return nil
		}
		return fmt.Errorf("records by run %v, %d orders missing", last.byRun, len(last.missing))
	})
	return last
}

// topicSize returns how many records topic holds, over all its partitions.
func topicSize(t *testing.T, cl *kgo.Client, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkatest.EndOffsets(ctx, cl, topic, partitions)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, end := range ends {
		n += int(end)
	}
	return n
}

// committedToEnd returns nil if the job's group committed the end offset of every
// partition of the input, or what it still lacks.
func committedToEnd(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("cannot fetch the offsets of group %s: %w", group, err)
	}
	ends, err := kafkatest.EndOffsets(ctx, cl, input, partitions)
	if err != nil {
		return err
	}
	for p, end := range ends {
		if o, _ := committed.Lookup(input, p); o.At != end {
			return fmt.Errorf("%s-%d: committed %d of %d", input, p, o.At, end)
		}
	}
	return nil
}

// checkpoint is a completed checkpoint retained in the checkpoint folder.
type checkpoint struct {
	id  int    // 0: none yet
	dir string // <checkpoint folder>/<job id>/chk-<id>
}

// newestCheckpoint returns the newest completed checkpoint of any job in dir. Flink writes
// a checkpoint's _metadata last, when it completes it: a chk-<id> folder without one is a
// checkpoint in progress (or cut short by the kill).
func newestCheckpoint(t *testing.T, dir string) checkpoint {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, "*", "chk-*", "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	var newest checkpoint
	for _, f := range found {
		if c := checkpointOf(t, filepath.Dir(f)); c.id > newest.id {
			newest = c
		}
	}
	return newest
}

// restorableCheckpoint returns the checkpoint to restore after the kill: the newest
// completed one, unless a newer one than covering (seen completed long before the kill)
// is the newest, whose _metadata the kill may have cut short: Flink writes that file in
// place. Then the one before it, complete since a checkpoint is only triggered once the
// previous one completed (one at a time, the default), and retained (num-retained 3).
func restorableCheckpoint(t *testing.T, dir string, covering checkpoint) checkpoint {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, "*", "chk-*", "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	var all []checkpoint
	for _, f := range found {
		all = append(all, checkpointOf(t, filepath.Dir(f)))
	}
	slices.SortFunc(all, func(a, b checkpoint) int { return b.id - a.id })
	switch {
	case len(all) == 0 || all[0].id < covering.id:
		t.Fatalf("BUG: the newest checkpoint is %v, older than checkpoint %d seen before", all, covering.id)
	case all[0].id == covering.id:
		return all[0]
	}
	if len(all) < 2 || all[1].id < covering.id {
		t.Fatalf("checkpoints %v retained, want one from %d to %d", all, covering.id, all[0].id-1)
	}
	return all[1]
}

// checkpointOf returns the checkpoint in folder chk (<checkpoint folder>/<job id>/chk-<id>).
func checkpointOf(t *testing.T, chk string) checkpoint {
	t.Helper()
	id, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(chk), "chk-"))
	if err != nil {
		t.Fatalf("unexpected checkpoint folder %s: %v", chk, err)
	}
	return checkpoint{id: id, dir: chk}
}

// jobRun is one JVM running the job.
type jobRun struct {
	name string
	cmd  *exec.Cmd
	log  *logbuf.Buffer // stdout and stderr
	done chan struct{}  // closed once the process is waited for
}

// startJob starts the job as run name (its output records' flink-run header), its sink
// with guarantee (AT_LEAST_ONCE or EXACTLY_ONCE), restoring the checkpoint in folder
// restore unless it is empty. It is killed when the test ends if
// it still runs; if it exits by itself, the test fails.
func startJob(t *testing.T, cp, addr, checkpoints, name, guarantee, restore string) *jobRun {
	t.Helper()
	args := []string{addr, input, output, group, checkpoints, t.TempDir(), name, guarantee}
	if restore != "" {
		args = append(args, restore)
	}
	r := &jobRun{name: name, cmd: jvm.Command(t, cp, orderJobMain, args...), log: &logbuf.Buffer{}, done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("cannot start java: %v", err)
	}
	go func() {
		defer close(r.done)
		_ = r.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("Flink run %s (tail):\n%s", name, r.log.Tail(16<<10))
		}
	})
	return r
}

// kill stops the JVM with SIGKILL, as a crash would, failing the test if it had already
// exited.
func (r *jobRun) kill(t *testing.T) {
	t.Helper()
	r.failIfExited(t)
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatalf("cannot kill Flink run %s: %v", r.name, err)
	}
	<-r.done
}

// failIfExited fails the test if the JVM has exited: the job runs until killed.
func (r *jobRun) failIfExited(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		t.Fatalf("Flink run %s exited by itself (%v):\n%s", r.name, r.cmd.ProcessState, r.log.Tail(16<<10))
	default:
	}
}

// outputRecord is a record of the output topic: its value and the run that wrote it.
type outputRecord struct {
	value, run string
	producerID int64 // -1: written by a producer that is not idempotent
}

// readWithHeaders reads the output topic from its start to the end offsets it had when
// the read began.
func readWithHeaders(t *testing.T, addr string) []outputRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kafkatest.EndOffsets(ctx, cl, output, partitions)
	if err != nil {
		t.Fatal(err)
	}
	offsets := make(map[int32]kgo.Offset)
	for p, end := range ends {
		if end > 0 {
			offsets[p] = kgo.NewOffset().AtStart()
		}
	}
	var out []outputRecord
	if len(offsets) == 0 {
		return out
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{output: offsets})
	done := make(map[int32]bool)
	for len(done) < len(offsets) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading %s to its end offsets %v", output, ends)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch error on %s-%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			rec := outputRecord{value: string(r.Value), run: "none", producerID: r.ProducerID}
			for _, h := range r.Headers {
				if h.Key == "flink-run" {
					rec.run = string(h.Value)
				}
			}
			out = append(out, rec)
			if r.Offset+1 == ends[r.Partition] {
				done[r.Partition] = true
			}
		})
	}
	return out
}
