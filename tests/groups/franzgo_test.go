package groups

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// helperEnv makes the test binary run helperConsumer instead of the tests: a group member
// in a process of its own, so that a test can kill it with SIGKILL (no LeaveGroup, no
// final commit), which is what a crashed consumer looks like to the coordinator.
const helperEnv = "KAFSCALE_GROUPS_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		helperConsumer()
		return
	}
	os.Exit(m.Run())
}

// helperConsumer consumes the topic in the group named by the environment and prints
// "<partition> <offset>" for every record, until it is killed.
func helperConsumer() {
	addr, group, topic := os.Getenv("HELPER_ADDR"), os.Getenv("HELPER_GROUP"), os.Getenv("HELPER_TOPIC")
	cl, err := kgo.NewClient(groupConsumerOpts(addr, group, topic)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		fs := cl.PollFetches(context.Background())
		fs.EachRecord(func(r *kgo.Record) { fmt.Fprintf(out, "%d %d\n", r.Partition, r.Offset) })
		_ = out.Flush()
	}
}

// groupConsumerOpts are the options of every franz-go group member in these tests.
func groupConsumerOpts(addr, group, topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ClientID("kafscale-groups"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second), kgo.AutoCommitInterval(200 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
	}
}

// startMember runs an in-process group member recording what it consumes until the test
// ends or stop is called; stop closes the client, leaving the group.
func startMember(t *testing.T, addr, group, topic string, s *seen) (stop func()) {
	t.Helper()
	cl, err := kgo.NewClient(groupConsumerOpts(addr, group, topic)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { s.add(r.Partition, r.Offset) })
		}
	}()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		<-done
		cl.Close()
	}
	t.Cleanup(stop)
	return stop
}

// describe returns the group's state and member count.
func describe(t *testing.T, cl *kgo.Client, group string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("cannot describe group %s: %v", group, err)
	}
	return resp.Groups[0].State, len(resp.Groups[0].Members)
}

// TestFranzGoGroupSurvivesAKilledMember: three members share a 12-partition topic; one
// is killed with SIGKILL mid-stream. The coordinator notices at its session timeout, the
// other two take its partitions over from its committed offsets, and every record
// produced before, during and after is consumed at least once, none skipped.
func TestFranzGoGroupSurvivesAKilledMember(t *testing.T) {
	const (
		partitions = 12
		perPhase   = 1200
	)
	b := startBroker(t)
	topic, group := uniqueName("killed"), uniqueName("g-killed")
	createTopic(t, b.Addr, topic, partitions)
	prod := producer(t, b.Addr)
	admin := newClient(t, b.Addr)
	want := produce(t, prod, topic, partitions, 0, perPhase)

	s := newSeen()
	victim := exec.Command(os.Args[0], "-test.run=^$")
	victim.Env = append(os.Environ(), helperEnv+"=1", "HELPER_ADDR="+b.Addr, "HELPER_GROUP="+group, "HELPER_TOPIC="+topic)
	victim.Stderr = os.Stderr
	out, err := victim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Start(); err != nil {
		t.Fatalf("cannot start the helper consumer: %v", err)
	}
	victimSeen := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			p, _ := strconv.ParseInt(f[0], 10, 32)
			o, _ := strconv.ParseInt(f[1], 10, 64)
			s.add(int32(p), o)
			n++
		}
		victimSeen <- n
	}()
	t.Cleanup(func() {
		if victim.ProcessState == nil {
			_ = victim.Process.Kill()
			_ = victim.Wait()
		}
	})
	startMember(t, b.Addr, group, topic, s)
	startMember(t, b.Addr, group, topic, s)

	waitFor(t, 60*time.Second, "a stable group of 3 members", func() bool {
		st, n := describe(t, admin, group)
		return st == "Stable" && n == 3
	})
	for p, n := range produce(t, prod, topic, partitions, perPhase, perPhase) {
		want[p] += n
	}
	waitFor(t, 30*time.Second, "2 phases consumed", func() bool { return s.total() >= 2*perPhase*2/3 })

	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	killed := time.Now()
	t.Logf("killed the helper member after it consumed %d records", <-victimSeen)
	for p, n := range produce(t, prod, topic, partitions, 2*perPhase, perPhase) {
		want[p] += n
	}

	waitFor(t, sessionTimeout+15*time.Second, "the two survivors form a stable group", func() bool {
		st, n := describe(t, admin, group)
		return st == "Stable" && n == 2
	})
	takeover := time.Since(killed)
	t.Logf("survivors took over %s after the kill (session timeout %s)", takeover.Round(time.Millisecond), sessionTimeout)
	if takeover > sessionTimeout+5*time.Second {
		t.Errorf("takeover took %s, more than the session timeout %s plus 5 s", takeover, sessionTimeout)
	}
	waitFor(t, 30*time.Second, "every record consumed", func() bool { return len(s.missing(want)) == 0 })
	waitFor(t, 30*time.Second, "committed offsets at the end of every partition", func() bool {
		got := committed(t, admin, group, topic, partitions)
		for p, n := range want {
			if got[p] != n {
				return false
			}
		}
		return true
	})
}

// TestFranzGoResumesFromCommittedOffsetsAfterRestart: offsets committed before a clean
// restart (SIGTERM) and before a kill -9 are there afterwards, and a consumer of the group
// resumes exactly from them.
func TestFranzGoResumesFromCommittedOffsetsAfterRestart(t *testing.T) {
	const partitions = 4
	b := startBroker(t)
	topic, group := uniqueName("restart"), uniqueName("g-restart")
	createTopic(t, b.Addr, topic, partitions)

	hw := produce(t, producer(t, b.Addr), topic, partitions, 0, 400)
	consumeAll(t, b.Addr, group, topic, hw, nil)
	check := func(when string) {
		t.Helper()
		got := committed(t, newClient(t, b.Addr), group, topic, partitions)
		for p, n := range hw {
			if got[p] != n {
				t.Fatalf("%s: committed offset of partition %d = %d, want %d", when, p, got[p], n)
			}
		}
	}
	check("before the restart")
	b.Term(30 * time.Second)
	b.Restart()
	check("after a SIGTERM restart")

	prev := make(map[int32]int64)
	for p, n := range hw {
		prev[p] = n
	}
	for p, n := range produce(t, producer(t, b.Addr), topic, partitions, 400, 200) {
		hw[p] += n
	}
	consumeAll(t, b.Addr, group, topic, hw, prev)
	b.Kill()
	b.Restart()
	check("after a kill -9 restart")
}

// consumeAll consumes the group until every partition reaches hw, commits and leaves.
// With from set, the first record of every partition must be at from[p]: the group
// resumed from its committed offsets.
func consumeAll(t *testing.T, addr, group, topic string, hw, from map[int32]int64) {
	t.Helper()
	cl := newClient(t, addr, append(groupConsumerOpts(addr, group, topic), kgo.DisableAutoCommit())...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	next := make(map[int32]int64)
	for p := range hw {
		next[p] = -1
	}
	done := func() bool {
		for p, n := range hw {
			if next[p] != n {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("group %s did not consume to %v: at %v", group, hw, next)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch error %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if next[r.Partition] == -1 && from != nil && r.Offset != from[r.Partition] {
				t.Errorf("partition %d resumed at offset %d, want the committed %d", r.Partition, r.Offset, from[r.Partition])
			}
			next[r.Partition] = r.Offset + 1
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("cannot commit: %v", err)
		}
	}
	cl.Close()
}
