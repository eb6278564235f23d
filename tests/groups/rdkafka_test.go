package groups

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/logbuf"
)

var (
	rdkafkaOnce sync.Once
	rdkafkaBin  string
	rdkafkaErr  error
)

// rdkafkaMember builds rdkafka/ (a module of its own: librdkafka 2.11 linked from
// confluent-kafka-go's bundled static library) once per test binary.
func rdkafkaMember(t *testing.T) string {
	t.Helper()
	rdkafkaOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir := filepath.Join(filepath.Dir(file), "rdkafka")
		out, err := os.MkdirTemp("", "kafscale-rdkafka-")
		if err != nil {
			rdkafkaErr = err
			return
		}
		rdkafkaBin = filepath.Join(out, "rdkafka-member")
		cmd := exec.Command("go", "build", "-o", rdkafkaBin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			rdkafkaErr = fmt.Errorf("go build in %s: %v\n%s", dir, err, b)
		}
	})
	if rdkafkaErr != nil {
		t.Fatalf("cannot build the librdkafka group member: %v", rdkafkaErr)
	}
	return rdkafkaBin
}

// rdkEvent is one line rdkafka/main.go prints.
type rdkEvent struct {
	Event      string  `json:"event"`
	Partitions []int32 `json:"partitions"`
	Partition  int32   `json:"partition"`
	Offset     int64   `json:"offset"`
	Value      string  `json:"value"`
	Error      string  `json:"error"`
}

// rdkMember is one running librdkafka group member.
type rdkMember struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   chan struct{} // closed when stdout is drained
	stderr logbuf.Buffer

	mu       sync.Mutex
	assigned []int32
	records  int
	closed   bool
	errors   []string
}

func (m *rdkMember) assignment() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.assigned)
}

func (m *rdkMember) hasClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// stop closes the member's stdin, which makes it close its consumer (leaving the group),
// and waits for it to exit.
func (m *rdkMember) stop() {
	m.t.Helper()
	if m.stdin == nil {
		return
	}
	_ = m.stdin.Close()
	m.stdin = nil
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		m.t.Errorf("librdkafka member %s did not exit within 60 s of being told to stop", m.name)
	}
	if err := m.cmd.Wait(); err != nil {
		m.t.Errorf("librdkafka member %s: %v\nstderr:\n%s", m.name, err, m.stderr.Tail(16<<10))
	}
	if !m.hasClosed() {
		m.t.Errorf("librdkafka member %s exited without closing its consumer", m.name)
	}
}

// startRdkafkaMember starts a librdkafka member of group with the consumer (KIP-848)
// protocol asking for the given server-side assignor; every record it consumes goes to s.
func startRdkafkaMember(t *testing.T, name, addr, group, topic, assignor string, s *seen) *rdkMember {
	t.Helper()
	cmd := exec.Command(rdkafkaMember(t), "-bootstrap", addr, "-group", group, "-topic", topic,
		"-protocol", "consumer", "-assignor", assignor, "-timeout", "3m")
	m := &rdkMember{t: t, name: name, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &m.stderr
	cmd.WaitDelay = 5 * time.Second
	var err error
	if m.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the librdkafka member: %v", err)
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e rdkEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				m.mu.Lock()
				m.errors = append(m.errors, fmt.Sprintf("unparsable line %q: %v", sc.Text(), err))
				m.mu.Unlock()
				continue
			}
			m.mu.Lock()
			switch e.Event {
			case "assigned":
				m.assigned = e.Partitions
			case "record":
				m.records++
				if want := fmt.Sprintf("v%d", e.Offset*rdkPartitions+int64(e.Partition)); e.Value != want {
					m.errors = append(m.errors, fmt.Sprintf("partition %d offset %d holds %q, want %q", e.Partition, e.Offset, e.Value, want))
				}
				s.add(e.Partition, e.Offset)
			case "commit_error":
				// At-least-once: a commit the broker refuses during a reassignment (a stale
				// member epoch) is redone by the partition's next owner; the test checks the
				// final committed offsets instead.
				t.Logf("librdkafka member %s: commit of partition %d offset %d refused: %s", name, e.Partition, e.Offset, e.Error)
			case "error":
				m.errors = append(m.errors, e.Error)
			case "closed":
				m.closed = true
			}
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		m.stop()
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.errors) > 0 {
			t.Errorf("librdkafka member %s reported errors:\n  %s\nstderr:\n%s", name, strings.Join(m.errors, "\n  "), m.stderr.Tail(16<<10))
		}
	})
	return m
}

// rdkPartitions is the partition count of the librdkafka test's topic; produce wrote
// record i to partition i%rdkPartitions, so each record's value follows from its place.
const rdkPartitions = 4

// TestLibrdkafkaKIP848ConsumerGroup: librdkafka 2.11 members with group.protocol=consumer
// (KIP-848: ConsumerGroupHeartbeat, server-side assignment, OffsetCommit with member
// epochs) share a topic. The second member gets half the partitions, every record is
// consumed and committed, the broker describes the group with the assignor the members
// asked for, and when one member leaves the other takes every partition and reads on.
// It runs once with each server-side assignor.
func TestLibrdkafkaKIP848ConsumerGroup(t *testing.T) {
	rdkafkaMember(t) // build once, outside the subtests' timings
	for _, assignor := range []string{"uniform", "range"} {
		t.Run(assignor, func(t *testing.T) { testLibrdkafkaKIP848(t, assignor) })
	}
}

func testLibrdkafkaKIP848(t *testing.T, assignor string) {
	b := startBroker(t)
	topic, group := uniqueName("rdk848"), uniqueName("g-rdk848")
	createTopic(t, b.Addr, topic, rdkPartitions)
	prod := producer(t, b.Addr)
	admin := newClient(t, b.Addr)
	hw := produce(t, prod, topic, rdkPartitions, 0, 400)

	s := newSeen()
	first := startRdkafkaMember(t, "first", b.Addr, group, topic, assignor, s)
	waitFor(t, 60*time.Second, "the first librdkafka member owning every partition", func() bool {
		return len(first.assignment()) == rdkPartitions
	})
	second := startRdkafkaMember(t, "second", b.Addr, group, topic, assignor, s)
	waitFor(t, 90*time.Second, "a stable consumer group of 2 librdkafka members with 2 partitions each", func() bool {
		st, sizes := describeConsumerGroup(t, admin, group)
		return st == "Stable" && slices.Equal(sizes, []int{2, 2}) &&
			len(first.assignment()) == 2 && len(second.assignment()) == 2
	})
	if both := append(first.assignment(), second.assignment()...); !slices.Equal(slices.Sorted(slices.Values(both)), []int32{0, 1, 2, 3}) {
		t.Fatalf("the members were assigned %v and %v, want every partition exactly once", first.assignment(), second.assignment())
	}
	if _, _, got := describeConsumerGroupAssignor(t, admin, group); got != assignor {
		t.Errorf("the group's assignor is %q, want %q (group.remote.assignor)", got, assignor)
	}
	waitFor(t, 60*time.Second, "every record consumed", func() bool { return len(s.missing(hw)) == 0 })
	waitCommitted(t, b.Addr, group, topic, rdkPartitions, hw)

	second.stop()
	waitFor(t, 60*time.Second, "the remaining librdkafka member owning every partition", func() bool {
		st, sizes := describeConsumerGroup(t, admin, group)
		return st == "Stable" && slices.Equal(sizes, []int{rdkPartitions}) && len(first.assignment()) == rdkPartitions
	})
	for p, n := range produce(t, prod, topic, rdkPartitions, 400, 40) {
		hw[p] += n
	}
	waitFor(t, 60*time.Second, "the records produced after the leave consumed", func() bool { return len(s.missing(hw)) == 0 })
	waitCommitted(t, b.Addr, group, topic, rdkPartitions, hw)
	first.stop()
	// Both left: the group has no member and keeps its offsets (docs/groups.md: a group
	// whose members all left stays, Empty).
	waitFor(t, 30*time.Second, "the group listed Empty after both members left", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, admin)
		if err != nil {
			t.Fatalf("ListGroups: %v", err)
		}
		return slices.ContainsFunc(resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool {
			return g.Group == group && g.GroupState == "Empty"
		})
	})
	if got := committed(t, admin, group, topic, rdkPartitions); !maps.Equal(got, hw) {
		t.Fatalf("after both members left, the group's committed offsets are %v, want the end offsets %v", got, hw)
	}
	t.Logf("librdkafka members consumed %d distinct records (%d and %d deliveries)", s.total(), first.records, second.records)
}
