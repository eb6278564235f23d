package compat

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestPythonConfluentKafkaProducesAndConsumes runs confluent-kafka 1.7 (librdkafka 2.0.2)
// with enable.idempotence=true; roundtrip.py produces and reads back, and DescribeProducers
// must then show its one producer id on every partition. Every stored batch must be lz4, the
// codec roundtrip.py asks for: this librdkafka sends lz4 uncompressed to a broker that does
// not list Produce v0 (KAFKA-18659, see TestKcatStoresEachCodecAsSent).
func TestPythonConfluentKafkaProducesAndConsumes(t *testing.T) {
	const (
		n          = 300
		partitions = 2
		timeout    = 60 * time.Second
	)
	python := kafkatest.DebianPython(t)
	addr := startBroker(t)
	topic := topicName("python")
	createTopic(t, addr, topic, partitions)
	want := makeRecords("python", n, partitions, true)

	job, err := json.Marshal(scriptJob{Bootstrap: addr, Topic: topic, TimeoutS: int(timeout / time.Second / 2), Records: toJob(want)})
	if err != nil {
		t.Fatalf("BUG: cannot encode job: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dir := filepath.Join(packageDir(t), "python")
	out := run(ctx, t, job, dir, python, "roundtrip.py")
	var res struct {
		Delivered []*struct {
			Partition int32   `json:"partition"`
			Offset    int64   `json:"offset"`
			Error     *string `json:"error"`
		} `json:"delivered"`
		Consumed []jobRecord `json:"consumed"`
		Errors   []string    `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("cannot parse roundtrip.py output %q: %v", clipN(out, 2000), err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("roundtrip.py reports errors:\n  %s", strings.Join(res.Errors, "\n  "))
	}
	if len(res.Delivered) != len(want) {
		t.Fatalf("roundtrip.py reports %d deliveries, want %d", len(res.Delivered), len(want))
	}
	for i, d := range res.Delivered {
		switch {
		case d == nil:
			t.Fatalf("record %d: no delivery report", i)
		case d.Error != nil:
			t.Fatalf("record %d: delivery failed: %s", i, *d.Error)
		case d.Partition != want[i].Partition || d.Offset != want[i].Offset:
			t.Fatalf("record %d delivered to partition %d offset %d, want partition %d offset %d",
				i, d.Partition, d.Offset, want[i].Partition, want[i].Offset)
		}
	}
	got, err := fromJob(res.Consumed)
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, want, got)
	checkIdempotentProducers(t, addr, topic, countByPartition(want), true)
	for p := range int32(partitions) {
		checkStoredCodec(t, addr, topic, p, codecLZ4)
	}
}
