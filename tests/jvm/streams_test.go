package jvmtest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// wordCountMain is the Kafka Streams application (streams/src/main/java/io/kafscale/jvmtest/streams).
const wordCountMain = "io.kafscale.jvmtest.streams.WordCount"

// streamsBrokerFlags start the broker of the Streams tests without the 3 s wait for more
// members before a group's first rebalance (group.initial.rebalance.delay.ms): each run
// of the application is the group's only member and joins an empty group, so the wait
// would only add 3 s to every start.
var streamsBrokerFlags = []string{"--group-initial-rebalance-delay", "0s"}

// compileWordCount compiles the Kafka Streams application against kafka-streams at the
// newest kafka-clients version tested (jvm/streams-<version>, streams/pom.xml).
func compileWordCount(t *testing.T) string {
	t.Helper()
	return jvm.Compile(t, "streams/src", jvm.Deps(t, "streams-"+kafkaClientVersions[0]))
}

// TestKafkaStreamsWordCountRestarts runs Kafka Streams' word count (flatMapValues ->
// groupBy -> count: a repartition topic, a state store and its changelog topic) with
// processing.guarantee=at_least_once against `kafscale dev` (issue 15, acceptance 3),
// stopped and restarted twice while its input grows:
//
//   - run 1 reads the first part of the input; once the output topic holds its first
//     counts, the second part is written and run 1 is stopped with SIGTERM right after
//     (its shutdown hook closes the application: a last commit, then it leaves the group),
//     most often with part of that input not yet processed;
//   - the third part is written while it is down; run 2, on the same state directory,
//     goes on from the committed offsets and its local store until the counts are right,
//     and is stopped the same way;
//   - the fourth part is written; run 3, on a fresh state directory, restores the store from
//     the changelog topic (it must report restored records) and goes on until the counts
//     are right.
//
// The latest count of every word in the output topic must be exactly the number of times
// it occurs in the input, no word's count may go down in the output, and the application
// must have deleted the repartition records it committed (DeleteRecords).
//
// SIGTERM, not SIGKILL: at_least_once promises no loss, not exact counts, after a crash
// (the records processed since the last commit are processed again), so only a clean
// stop can be held to exact counts.
func TestKafkaStreamsWordCountRestarts(t *testing.T) {
	const (
		app        = "wordcount"
		input      = "lines"
		output     = "word-counts"
		partitions = 3
		part       = 3000 // lines per part of the input
	)
	p := testbroker.Start(t, streamsBrokerFlags...)
	kafkatest.CreateTopic(t, p.Addr, input, partitions)
	kafkatest.CreateTopic(t, p.Addr, output, partitions)
	cp := compileWordCount(t)
	counts := newCountTail(t, p.Addr, output, partitions)
	want := make(map[string]int64)
	writeLines(t, p.Addr, input, 0, part, want)

	// Streams deletes the repartition records it has committed (DeleteRecords) every 30 s
	// by default: every 100 ms here, so that the test sees it.
	purge := "repartition.purge.interval.ms=100"
	stateDir := t.TempDir()
	run1 := startWordCount(t, cp, p.Addr, app, stateDir, "at_least_once", input, output, purge)
	run1.waitLine(t, "STATE RUNNING", 60*time.Second)
	kafkatest.WaitFor(t, 60*time.Second, "the first counts in the output topic", func() bool { return counts.records() > 0 })
	writeLines(t, p.Addr, input, part, part, want)
	run1.stop(t)
	t.Logf("run 1 stopped with %d of %d input records committed", committedInput(t, p.Addr, app, input), 2*part)

	writeLines(t, p.Addr, input, 2*part, part, want)
	run2 := startWordCount(t, cp, p.Addr, app, stateDir, "at_least_once", input, output, purge)
	counts.waitFor(t, want, 60*time.Second)
	run2.stop(t)

	writeLines(t, p.Addr, input, 3*part, part, want)
	run3 := startWordCount(t, cp, p.Addr, app, t.TempDir(), "at_least_once", input, output, purge)
	counts.waitFor(t, want, 60*time.Second)
	run3.stop(t)
	restored := run3.restored()
	if restored == 0 {
		t.Errorf("run 3, on a fresh state directory, restored no record of its store from the changelog:\n%s", run3.output())
	}
	t.Logf("run 3 restored %d records of its store from the changelog", restored)

	// Nothing after the counts came right may change them: read the output to its end.
	counts.waitFor(t, want, 30*time.Second)
	if n := committedInput(t, p.Addr, app, input); n != 4*part {
		t.Errorf("the application committed %d input records, want %d", n, 4*part)
	}
	counts.checkMonotonic(t)

	// The repartition topic was purged up to what the application had committed.
	repartition := app + "-counts-repartition"
	starts := startOffsets(t, p.Addr, repartition, partitions)
	if slices.Max(slices.Collect(maps.Values(starts))) == 0 {
		t.Errorf("no record of %s was deleted: start offsets %v", repartition, starts)
	}
	t.Logf("%s purged up to %v", repartition, starts)
}

// startOffsets returns the log start offset of each partition of topic.
func startOffsets(t *testing.T, addr, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(cl).ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("cannot list the start offsets of %s: %v", topic, err)
	}
	out := make(map[int32]int64, partitions)
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Errorf("cannot list the start offset of %s-%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	if len(out) != int(partitions) {
		t.Fatalf("listed the start offsets of %d partitions of %s, want %d", len(out), topic, partitions)
	}
	return out
}

// TestKafkaStreamsWordCountAfterCrash is the word count's at_least_once promise after a
// crash: run 1 reads the first part of the input; once the output topic holds its first
// counts the second part is written and the JVM is killed with SIGKILL right after (no
// shutdown hook, no last commit); run 2, on the same state directory and application.id,
// goes on from the last committed offsets. Both are static members of the group
// (group.instance.id, KIP-345), as Streams applications on Kubernetes often are: run 2
// takes run 1's place at once instead of waiting for its session (45 s) to expire. Once
// every input and repartition record is committed, every word's latest count must be at
// least its number of occurrences: none lost. It may be higher: records processed after
// the last commit before the crash are processed again, and counted twice if their counts
// had reached the changelog.
func TestKafkaStreamsWordCountAfterCrash(t *testing.T) {
	t.Parallel() // a few JVM start-ups: run beside the other short JVM tests
	const (
		app        = "wordcount-crash"
		input      = "lines"
		output     = "word-counts"
		partitions = 3
		part       = 3000
	)
	p := testbroker.Start(t, streamsBrokerFlags...)
	kafkatest.CreateTopic(t, p.Addr, input, partitions)
	kafkatest.CreateTopic(t, p.Addr, output, partitions)
	cp := compileWordCount(t)
	counts := newCountTail(t, p.Addr, output, partitions)
	want := make(map[string]int64)
	writeLines(t, p.Addr, input, 0, part, want)

	stateDir := t.TempDir()
	static := "group.instance.id=" + app
	run1 := startWordCount(t, cp, p.Addr, app, stateDir, "at_least_once", input, output, static)
	run1.waitLine(t, "STATE RUNNING", 60*time.Second)
	kafkatest.WaitFor(t, 60*time.Second, "the first counts in the output topic", func() bool { return counts.records() > 0 })
	writeLines(t, p.Addr, input, part, part, want)
	run1.kill(t)
	t.Logf("run 1 killed with %d of %d input records committed", committedInput(t, p.Addr, app, input), 2*part)

	run2 := startWordCount(t, cp, p.Addr, app, stateDir, "at_least_once", input, output, static)
	kafkatest.WaitUntil(t, 60*time.Second, "every input and repartition record committed", func() error {
		return committedToEnd(p.Addr, app, partitions, input, app+"-counts-repartition")
	})
	run2.stop(t)
	var over []string
	counts.waitUntil(t, 30*time.Second, "counts at least the input's", func(latest map[string]int64) error {
		over = over[:0]
		for w, n := range latest {
			if n > want[w] {
				over = append(over, fmt.Sprintf("%s=%d (%d in the input)", w, n, want[w]))
			}
		}
		return countDiff(latest, want, func(got, want int64) bool { return got >= want })
	})
	slices.Sort(over)
	if len(over) == 0 {
		t.Logf("after the crash, every word's count is exact: no counted record was processed again")
	} else {
		t.Logf("after the crash, %d of %d words were counted more often than they occur (records processed again, as at_least_once allows), such as %s",
			len(over), len(want), strings.Join(over[:min(len(over), 3)], ", "))
	}
	counts.checkMonotonic(t)
}

// TestKafkaStreamsExactlyOnceV2Fails runs the same word count with
// processing.guarantee=exactly_once_v2: KafScale has no transactions (InitProducerId with a
// transactional id is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED), so the application
// must stop at its start with that error, having written nothing, rather than run without
// the guarantee it asked for. docs/compatibility.md quotes what it reports.
func TestKafkaStreamsExactlyOnceV2Fails(t *testing.T) {
	t.Parallel() // a few JVM start-ups: run beside the other short JVM tests
	const input, output = "lines", "word-counts"
	p := testbroker.Start(t, streamsBrokerFlags...)
	kafkatest.CreateTopic(t, p.Addr, input, 3)
	kafkatest.CreateTopic(t, p.Addr, output, 3)
	writeLines(t, p.Addr, input, 0, 100, map[string]int64{})
	cp := compileWordCount(t)
	run := startWordCount(t, cp, p.Addr, "wordcount-eos", t.TempDir(), "exactly_once_v2", input, output)
	code := run.wait(t, 90*time.Second)
	out := run.output()
	if code != 1 {
		t.Errorf("the exactly_once_v2 application exited with %d, want 1 (stopped by its error)", code)
	}
	for _, want := range []string{
		"STATE ERROR",
		"ERROR org.apache.kafka.streams.errors.StreamsException: Error encountered trying to initialize transactions",
		"ERROR org.apache.kafka.common.errors.TransactionalIdAuthorizationException: Transactional Id authorization failed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the exactly_once_v2 application did not print %q:\n%s\nstderr (tail):\n%s", want, out, run.stderr.Tail(8<<10))
		}
	}
	if n := len(kafkatest.ReadAll(t, p.Addr, output, 3)); n != 0 {
		t.Errorf("the exactly_once_v2 application wrote %d records to %s, want none", n, output)
	}
}

// wordCountVocabulary is what the input lines are made of.
var wordCountVocabulary = strings.Fields(`alpha beta gamma delta epsilon zeta eta theta iota kappa
	lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega`)

// writeLines writes lines [from, from+n) of the input, with no key, and adds the words of
// each to want. The lines mix case and punctuation, which the application's split and
// lower-casing remove.
func writeLines(t *testing.T, addr, topic string, from, n int, want map[string]int64) {
	t.Helper()
	cl := kafkatest.NewIdempotentProducer(t, addr, kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	v := wordCountVocabulary
	records := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		words := []string{v[i%len(v)], v[(i*7+3)%len(v)], v[(i*i)%len(v)], fmt.Sprintf("w%d", i%13)}
		for _, w := range words {
			want[w]++
		}
		words[0] = strings.ToUpper(words[0][:1]) + words[0][1:] + ","
		records = append(records, kgo.StringRecord(strings.Join(words, " ")+"."))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("cannot write input lines %d..%d: %v", from, from+n-1, err)
	}
}

// committedInput returns how many input records group app committed, over all partitions.
func committedInput(t *testing.T, addr, app, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, app)
	if err != nil {
		t.Fatalf("cannot fetch the offsets of group %s: %v", app, err)
	}
	var n int64
	for _, o := range offsets[topic] {
		n += o.At
	}
	return n
}

// committedToEnd returns nil if group app committed the end offset of every partition of
// each topic (each of the given partition count), or what it still lacks.
func committedToEnd(addr, app string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, app)
	if err != nil {
		return fmt.Errorf("cannot fetch the offsets of group %s: %w", app, err)
	}
	for _, topic := range topics {
		ends, err := kafkatest.EndOffsets(ctx, cl, topic, partitions)
		if err != nil {
			return err
		}
		for p, end := range ends {
			if o, _ := committed.Lookup(topic, p); o.At != end {
				return fmt.Errorf("%s-%d: committed %d of %d", topic, p, o.At, end)
			}
		}
	}
	return nil
}

// wordCountRun is one run of the Kafka Streams application.
type wordCountRun struct {
	cmd    *exec.Cmd
	stderr *logbuf.Buffer
	exited chan struct{} // closed once stdout is read to its end and the process waited for

	mu     sync.Mutex
	lines  []string      // stdout so far
	notify chan struct{} // closed and replaced at each new line
}

// startWordCount starts the application; it is killed when the test ends if it still runs.
// props are further Streams properties as property=value.
func startWordCount(t *testing.T, cp, addr, app, stateDir, guarantee, input, output string, props ...string) *wordCountRun {
	t.Helper()
	r := &wordCountRun{
		cmd:    jvm.Command(t, cp, wordCountMain, append([]string{addr, app, stateDir, guarantee, input, output}, props...)...),
		stderr: &logbuf.Buffer{},
		exited: make(chan struct{}),
		notify: make(chan struct{}),
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("cannot start java: %v", err)
	}
	go func() {
		defer close(r.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			close(r.notify)
			r.notify = make(chan struct{})
			r.mu.Unlock()
		}
		_ = r.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("Kafka Streams (%s, %s) stdout:\n%s\nstderr (tail):\n%s", app, guarantee, r.output(), r.stderr.Tail(8<<10))
		}
	})
	return r
}

// output returns what the application printed on stdout so far.
func (r *wordCountRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// waitLine waits until the application prints line, failing the test if it exits first
// or timeout passes.
func (r *wordCountRun) waitLine(t *testing.T, line string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		found, next := slices.Contains(r.lines, line), r.notify
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-next:
		case <-r.exited:
			t.Fatalf("Kafka Streams exited before printing %q:\n%s\nstderr (tail):\n%s", line, r.output(), r.stderr.Tail(8<<10))
		case <-deadline:
			t.Fatalf("Kafka Streams did not print %q within %s:\n%s\nstderr (tail):\n%s", line, timeout, r.output(), r.stderr.Tail(8<<10))
		}
	}
}

// wait waits up to timeout for the application to exit by itself and returns its exit
// code.
func (r *wordCountRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.exited:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("Kafka Streams still runs after %s:\n%s", timeout, r.output())
		return 0
	}
}

// stop sends SIGTERM and waits for the shutdown hook's clean close ("CLOSED") and the
// JVM's exit.
func (r *wordCountRun) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("cannot send SIGTERM to Kafka Streams: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("Kafka Streams did not exit within 60 s of SIGTERM:\n%s", r.output())
	}
	if out := r.output(); !strings.Contains(out, "\nCLOSED") {
		t.Fatalf("Kafka Streams did not close cleanly after SIGTERM:\n%s\nstderr (tail):\n%s", out, r.stderr.Tail(8<<10))
	}
}

// kill kills the JVM with SIGKILL and waits for it to exit.
func (r *wordCountRun) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("cannot send SIGKILL to Kafka Streams: %v", err)
	}
	<-r.exited
}

// restored returns how many records the application reported restoring into its stores.
func (r *wordCountRun) restored() int64 {
	var total int64
	for line := range strings.Lines(r.output()) {
		var store string
		var partition, n int64
		if _, err := fmt.Sscanf(line, "RESTORED %s %d %d", &store, &partition, &n); err == nil {
			total += n
		}
	}
	return total
}

// countTail follows the output topic from its start: the latest count of each word, and
// every count that went down.
type countTail struct {
	addr, topic string
	partitions  int32

	mu         sync.Mutex // guards the fields below, written by the tail's goroutine
	latest     map[string]int64
	n          int
	decreasing []string
	next       map[int32]int64 // offset after the last record read, per partition
}

// newCountTail starts following topic, of the given partition count; it stops when the
// test ends.
func newCountTail(t *testing.T, addr, topic string, partitions int32) *countTail {
	t.Helper()
	c := &countTail{addr: addr, topic: topic, partitions: partitions, latest: make(map[string]int64), next: make(map[int32]int64)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.n++
				c.next[r.Partition] = r.Offset + 1
				if len(r.Value) != 8 {
					c.decreasing = append(c.decreasing, fmt.Sprintf("%s: a value of %d bytes, not a long", r.Key, len(r.Value)))
					return
				}
				word, n := string(r.Key), int64(binary.BigEndian.Uint64(r.Value))
				if n < c.latest[word] {
					c.decreasing = append(c.decreasing, fmt.Sprintf("%s: %d after %d", word, n, c.latest[word]))
				}
				c.latest[word] = n
			})
		}
	}()
	return c
}

// records returns how many records the tail has read.
func (c *countTail) records() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// waitFor waits until the tail has read the topic up to its current end and the latest
// counts equal want, failing the test with the difference after timeout.
func (c *countTail) waitFor(t *testing.T, want map[string]int64, timeout time.Duration) {
	t.Helper()
	c.waitUntil(t, timeout, "the word counts", func(latest map[string]int64) error {
		if maps.Equal(latest, want) {
			return nil
		}
		return countDiff(latest, want, func(got, want int64) bool { return got == want })
	})
}

// waitUntil waits until the tail has read the topic up to its current end and check
// accepts the latest counts, failing the test with check's last error after timeout.
func (c *countTail) waitUntil(t *testing.T, timeout time.Duration, what string, check func(latest map[string]int64) error) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kafkatest.WaitUntil(t, timeout, what, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := kafkatest.EndOffsets(ctx, cl, c.topic, c.partitions)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for p, end := range ends {
			if c.next[p] < end {
				return fmt.Errorf("partition %d read up to %d of %d", p, c.next[p], end)
			}
		}
		return check(c.latest)
	})
}

// countDiff lists the words whose count ok rejects, or nil.
func countDiff(latest, want map[string]int64, ok func(got, want int64) bool) error {
	var diff []string
	for _, w := range slices.Sorted(maps.Keys(want)) {
		if !ok(latest[w], want[w]) {
			diff = append(diff, fmt.Sprintf("%s=%d (want %d)", w, latest[w], want[w]))
		}
	}
	for _, w := range slices.Sorted(maps.Keys(latest)) {
		if _, in := want[w]; !in {
			diff = append(diff, fmt.Sprintf("%s=%d (not in the input)", w, latest[w]))
		}
	}
	if len(diff) == 0 {
		return nil
	}
	return fmt.Errorf("%d words differ: %s", len(diff), strings.Join(diff, ", "))
}

// checkMonotonic fails the test for each count that went down in the output topic.
func (c *countTail) checkMonotonic(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.decreasing {
		t.Errorf("a count went down in the output topic: %s", d)
	}
}
