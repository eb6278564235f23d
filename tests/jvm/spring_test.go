package jvmtest

import (
	"context"
	"fmt"
	"path/filepath"
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

// springDeps are the jars of the Spring Boot application (spring/pom.xml): Spring Boot
// 4.0.7 with spring-kafka 4.0.6 and the kafka-clients it manages, 4.1.2, which
// scripts/test-deps.sh copies into jvm/spring-4.1.2.
const springDeps = "spring-4.1.2"

// springMain is the Spring Boot application (spring/src/main/java/io/kafscale/jvmtest/spring).
const springMain = "io.kafscale.jvmtest.spring.OrdersApplication"

// The application's topic, group and record count (OrdersApplication's constants).
const (
	springTopic      = "orders"
	springGroup      = "orders-consumer"
	springPartitions = 3
	springRecords    = 300
)

// springRecord is one record as the application printed it.
type springRecord struct {
	partition  int32
	offset     int64
	key, value string
}

// TestSpringKafka runs a Spring Boot application configured as the user guide's
// application.yml, without enable.idempotence: false and acks: 1 (issue 15, acceptance 2),
// against `kafscale dev`: KafkaAdmin creates the topic from a NewTopic bean, a
// KafkaTemplate sends 300 records over ten keys (idempotent, acks=all) and a
// @KafkaListener in group orders-consumer (auto-offset-reset earliest) receives them. The
// application is a plain `java -cp` run of the compiled classes with application.yml on
// the class path, the broker's address passed as --spring.kafka.bootstrap-servers. The test
// checks that every acknowledged record was received once, in offset order per partition
// and in send order per key, that the topic holds exactly those records, and that the
// group committed the end of every partition.
func TestSpringKafka(t *testing.T) {
	t.Parallel() // one JVM: run beside the other short JVM tests
	p := testbroker.Start(t)
	resources, err := filepath.Abs("spring/src/main/resources")
	if err != nil {
		t.Fatal(err)
	}
	cp := resources + string(filepath.ListSeparator) + jvm.Compile(t, "spring/src", jvm.Deps(t, springDeps))
	start := time.Now()
	stdout, stderr := jvm.Run(t, jvm.Command(t, cp, springMain,
		"--spring.kafka.bootstrap-servers="+p.Addr, "--spring.main.banner-mode=off", "--logging.level.root=WARN"), 2*time.Minute)
	t.Logf("the Spring Boot application ran for %s", time.Since(start).Round(time.Millisecond))
	jvm.Check(t, stdout, stderr, "spring")
	if t.Failed() {
		return
	}

	sent, received := parseSpringRecords(t, stdout)
	if len(sent) != springRecords {
		t.Fatalf("the application printed %d acknowledged sends, want %d", len(sent), springRecords)
	}
	bySlot := make(map[[2]int64]springRecord, len(sent))
	for _, r := range sent {
		slot := [2]int64{int64(r.partition), r.offset}
		if _, dup := bySlot[slot]; dup {
			t.Fatalf("two sends acknowledged at %s-%d/%d", springTopic, r.partition, r.offset)
		}
		bySlot[slot] = r
	}
	seen := make(map[[2]int64]bool, len(received))
	lastOffset := make(map[int32]int64)
	lastValue := make(map[string]int)
	for _, r := range received {
		slot := [2]int64{int64(r.partition), r.offset}
		want, ok := bySlot[slot]
		switch {
		case !ok:
			t.Errorf("received %s-%d/%d (%s=%s), which no send was acknowledged at", springTopic, r.partition, r.offset, r.key, r.value)
			continue
		case seen[slot]:
			t.Errorf("received %s-%d/%d twice", springTopic, r.partition, r.offset)
			continue
		case want != r:
			t.Errorf("received %+v at the offset of %+v", r, want)
		}
		seen[slot] = true
		if last, ok := lastOffset[r.partition]; ok && r.offset <= last {
			t.Errorf("partition %d: received offset %d after %d", r.partition, r.offset, last)
		}
		lastOffset[r.partition] = r.offset
		v, err := strconv.Atoi(r.value)
		if err != nil {
			t.Fatalf("received value %q, not a number", r.value)
		}
		if last, ok := lastValue[r.key]; ok && v <= last {
			t.Errorf("key %s: received value %d after %d (sent in increasing order)", r.key, v, last)
		}
		lastValue[r.key] = v
	}
	if len(seen) != springRecords {
		t.Errorf("the listener received %d distinct records, want %d", len(seen), springRecords)
	}

	if n := len(kafkatest.ReadAll(t, p.Addr, springTopic, springPartitions)); n != springRecords {
		t.Errorf("topic %s holds %d records, want %d", springTopic, n, springRecords)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkatest.EndOffsets(ctx, cl, springTopic, springPartitions)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, springGroup)
	if err != nil {
		t.Fatalf("cannot fetch the offsets of group %s: %v", springGroup, err)
	}
	for part, end := range ends {
		if o, ok := committed.Lookup(springTopic, part); !ok || o.At != end {
			t.Errorf("group %s committed %v for partition %d, want the end offset %d", springGroup, o.At, part, end)
		}
	}
}

// parseSpringRecords parses the application's "SENT p offset key value" and "RECEIVED p
// offset key value" lines, in the order printed.
func parseSpringRecords(t *testing.T, stdout string) (sent, received []springRecord) {
	t.Helper()
	for line := range strings.Lines(stdout) {
		var verb string
		var r springRecord
		if !strings.HasPrefix(line, "SENT ") && !strings.HasPrefix(line, "RECEIVED ") {
			continue
		}
		if _, err := fmt.Sscan(line, &verb, &r.partition, &r.offset, &r.key, &r.value); err != nil {
			t.Fatalf("cannot parse %q: %v", line, err)
		}
		if verb == "SENT" {
			sent = append(sent, r)
		} else {
			received = append(received, r)
		}
	}
	return sent, received
}
