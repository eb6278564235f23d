package kafkatest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
)

func TestMetricValueSumsSamplesOfOneName(t *testing.T) {
	const text = `# TYPE reqs_total counter
reqs_total{api="produce"} 3
reqs_total{api="fetch",note="a b"} 4.5
reqs_total_other 100
reqs 7 1700000000000
gauge 2
`
	tests := []struct {
		name string
		want float64
	}{
		{"reqs_total", 7.5},
		{"reqs", 7},
		{"gauge", 2},
		{"absent", 0},
	}
	for _, tt := range tests {
		if got := MetricValue(text, tt.name); got != tt.want {
			t.Errorf("MetricValue(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDuplicatesIgnoresTheSameOffsetReadTwice(t *testing.T) {
	p0, p1 := ackcheck.Partition{Topic: "t", Partition: 0}, ackcheck.Partition{Topic: "t", Partition: 1}
	tests := []struct {
		name string
		read []ackcheck.Record
		want int
	}{
		{"unique", []ackcheck.Record{{Partition: p0, Offset: 0, Value: []byte("a")}, {Partition: p0, Offset: 1, Value: []byte("b")}}, 0},
		{"same offset read twice", []ackcheck.Record{{Partition: p0, Offset: 0, Value: []byte("a")}, {Partition: p0, Offset: 0, Value: []byte("a")}}, 0},
		{"two offsets", []ackcheck.Record{{Partition: p0, Offset: 0, Value: []byte("a")}, {Partition: p0, Offset: 1, Value: []byte("a")}}, 1},
		{"two partitions", []ackcheck.Record{{Partition: p0, Offset: 0, Value: []byte("a")}, {Partition: p1, Offset: 0, Value: []byte("a")}}, 1},
	}
	for _, tt := range tests {
		if got := Duplicates(tt.read); len(got) != tt.want {
			t.Errorf("%s: Duplicates = %q, want %d entries", tt.name, got, tt.want)
		}
	}
}

// TestProduceAndReadBackAgainstKfake runs the helpers against franz-go's fake cluster:
// what ProduceSync acknowledged is what ReadAll returns, once each.
func TestProduceAndReadBackAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	const topic, partitions = "t", 3
	CreateTopic(t, addr, topic, partitions)
	if read := ReadAll(t, addr, topic, partitions); len(read) != 0 {
		t.Fatalf("ReadAll of an empty topic returned %d records", len(read))
	}
	ledger := ackcheck.NewLedger()
	ProduceSync(t, NewNonIdempotentProducer(t, addr), ledger, topic, partitions, "v", 100)
	read := ReadAll(t, addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Fatal(err)
	}
	RequireExactlyOnce(t, read)
	if len(read) != 100 || ledger.Len() != 100 {
		t.Fatalf("read %d records, %d acknowledged; want 100", len(read), ledger.Len())
	}
	var parts []int32
	for _, r := range read {
		if !slices.Contains(parts, r.Partition.Partition) {
			parts = append(parts, r.Partition.Partition)
		}
	}
	if len(parts) != partitions {
		t.Fatalf("records landed in partitions %v, want all %d", parts, partitions)
	}
}

func TestEndOffsetsFailsForAnUnknownTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := EndOffsets(ctx, cl, "missing", 1); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("EndOffsets of an unknown topic = %v, want an error naming the topic", err)
	}
}
