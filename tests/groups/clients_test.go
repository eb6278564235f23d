package groups

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
)

// waitCommitted waits until the group's committed offsets reach want on every partition.
func waitCommitted(t *testing.T, addr, group, topic string, partitions int32, want map[int32]int64) {
	t.Helper()
	cl := newClient(t, addr)
	var got map[int32]int64
	waitFor(t, 30*time.Second, "committed offsets at the end of every partition", func() bool {
		got = committed(t, cl, group, topic, partitions)
		for p, n := range want {
			if got[p] != n {
				return false
			}
		}
		return true
	})
}

// TestKafkaGoReaderWithGroupID: kafka-go's Reader in a group (JoinGroup v1, SyncGroup v0,
// OffsetCommit v2, OffsetFetch v1) reads everything, commits, and a second Reader of the
// group resumes after the committed offsets.
func TestKafkaGoReaderWithGroupID(t *testing.T) {
	const partitions = 3
	b := startBroker(t)
	topic, group := uniqueName("kafkago"), uniqueName("g-kafkago")
	createTopic(t, b.Addr, topic, partitions)
	prod := producer(t, b.Addr)
	hw := produce(t, prod, topic, partitions, 0, 300)

	read := func(n int) []kafka.Message {
		t.Helper()
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{b.Addr}, GroupID: group, Topic: topic,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
			SessionTimeout: sessionTimeout, HeartbeatInterval: 500 * time.Millisecond,
			RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: 200 * time.Millisecond,
			StartOffset: kafka.FirstOffset, CommitInterval: 0, // commit every message synchronously
		})
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var out []kafka.Message
		for len(out) < n {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("kafka-go ReadMessage after %d of %d messages: %v", len(out), n, err)
			}
			out = append(out, m)
		}
		return out
	}
	first := read(300)
	s := newSeen()
	for _, m := range first {
		s.add(int32(m.Partition), m.Offset)
	}
	if miss := s.missing(hw); len(miss) != 0 {
		t.Fatalf("kafka-go Reader missed offsets %v", miss)
	}
	waitCommitted(t, b.Addr, group, topic, partitions, hw)

	for p, n := range produce(t, prod, topic, partitions, 300, 30) {
		hw[p] += n
	}
	for _, m := range read(30) {
		if m.Offset < 100 {
			t.Fatalf("second Reader of the group read partition %d offset %d, already committed", m.Partition, m.Offset)
		}
	}
	waitCommitted(t, b.Addr, group, topic, partitions, hw)
}

// saramaHandler records what a sarama group member consumes and marks it for commit.
type saramaHandler struct{ s *seen }

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.s.add(m.Partition, m.Offset)
		sess.MarkMessage(m, "")
	}
	return nil
}

// TestSaramaConsumerGroup: two sarama ConsumerGroup members (Version 2.8: JoinGroup v5,
// SyncGroup v3, OffsetCommit v7) split a topic, rebalance when the second joins, consume
// every record and commit to the end.
func TestSaramaConsumerGroup(t *testing.T) {
	const partitions = 4
	b := startBroker(t)
	topic, group := uniqueName("sarama"), uniqueName("g-sarama")
	createTopic(t, b.Addr, topic, partitions)
	hw := produce(t, producer(t, b.Addr), topic, partitions, 0, 400)

	cfg := sarama.NewConfig()
	cfg.ClientID = "kafscale-groups"
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = sessionTimeout
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Return.Errors = true

	s := newSeen()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	member := func() {
		cg, err := sarama.NewConsumerGroup([]string{b.Addr}, group, cfg)
		if err != nil {
			t.Errorf("cannot create sarama consumer group: %v", err)
			return
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for err := range cg.Errors() {
				t.Logf("sarama group error: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			defer cg.Close() // commits the marked offsets and leaves
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, saramaHandler{s}); err != nil && ctx.Err() == nil {
					t.Logf("sarama Consume: %v", err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	member()
	waitFor(t, 60*time.Second, "the first member consuming", func() bool { return s.total() > 0 })
	member()
	admin := newClient(t, b.Addr)
	waitFor(t, 60*time.Second, "a stable group of 2 sarama members", func() bool {
		st, n := describe(t, admin, group)
		return st == "Stable" && n == 2
	})
	waitFor(t, 60*time.Second, "every record consumed", func() bool { return len(s.missing(hw)) == 0 })
	waitCommitted(t, b.Addr, group, topic, partitions, hw)
	cancel()
	wg.Wait()
}

// TestKcatBalancedConsumer: kcat -G (librdkafka 2.0.2, its own group protocol versions)
// consumes a topic to the end in a group, commits on exit, and a second run of the group
// reads only what was produced since.
func TestKcatBalancedConsumer(t *testing.T) {
	const partitions = 3
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("cannot find kcat on PATH: %v; run scripts/test-deps.sh to install the test dependencies", err)
	}
	b := startBroker(t)
	topic, group := uniqueName("kcat"), uniqueName("g-kcat")
	createTopic(t, b.Addr, topic, partitions)
	prod := producer(t, b.Addr)
	hw := produce(t, prod, topic, partitions, 0, 150)

	consume := func() []int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, "-b", b.Addr, "-G", group, "-q", "-e", "-J",
			"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
			"-X", "auto.offset.reset=earliest", "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100",
			topic)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kcat -G failed: %v\nstderr:\n%s", err, stderr.Bytes())
		}
		var offsets []int64
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var m struct {
				Partition int32 `json:"partition"`
				Offset    int64 `json:"offset"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("cannot parse kcat -J line %q: %v", line, err)
			}
			offsets = append(offsets, m.Offset)
		}
		return offsets
	}
	if got := consume(); len(got) != 150 {
		t.Fatalf("kcat -G consumed %d records, want 150", len(got))
	}
	waitCommitted(t, b.Addr, group, topic, partitions, hw)
	produce(t, prod, topic, partitions, 150, 15)
	got := consume()
	if len(got) != 15 {
		t.Fatalf("second kcat -G run consumed %d records, want the 15 new ones", len(got))
	}
	for _, o := range got {
		if o < 50 {
			t.Fatalf("second kcat -G run read offset %d, already committed", o)
		}
	}
}
