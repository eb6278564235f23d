package metrics

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestTailTotalBytesBoundsAllPartitions: with --tail-total-bytes of about four batches,
// writing one batch at a time to each of 20 partitions keeps kafscale_tail_bytes within it
// after every acknowledged produce, the last partitions written keep theirs, and every
// record still reads back (the first partitions' from the objects).
func TestTailTotalBytesBoundsAllPartitions(t *testing.T) {
	const budget, partitions, rounds = 4096, 20, 2
	b := testbroker.Start(t, "--tail-total-bytes", "4096")
	const topic = "tails"
	kafkatest.CreateTopic(t, b.Addr, topic, partitions)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	value := bytes.Repeat([]byte("t"), 1000)
	for r := range rounds {
		for p := range int32(partitions) {
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			scrape, err := b.Metrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if held := kafkatest.MetricValue(scrape, "kafscale_tail_bytes"); held > budget || held <= 0 {
				t.Fatalf("round %d partition %d: kafscale_tail_bytes %v after the produce; want in (0, %d]", r, p, held, budget)
			}
		}
	}
	if read := kafkatest.ReadAll(t, b.Addr, topic, partitions); len(read) != partitions*rounds {
		t.Fatalf("read back %d records; want %d", len(read), partitions*rounds)
	}
	scrape, err := b.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := kafkatest.MetricValue(scrape, "kafscale_fetch_object_reads_total"); n == 0 {
		t.Fatal("no fetch read the objects, though most partitions' tails were dropped")
	}
}
