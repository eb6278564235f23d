package compat

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaSyncProducerAndPartitionConsumerRoundTrip produces with sarama's idempotent
// producer (off by default in sarama; users turn it on with the settings below, which
// sarama's config validation requires together).
func TestSaramaSyncProducerAndPartitionConsumerRoundTrip(t *testing.T) {
	const (
		n          = 400
		partitions = 2
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := startBroker(t)
	topic := topicName("sarama")
	createTopic(t, addr, topic, partitions)
	want := makeRecords("sarama", n, partitions, true)

	cfg := sarama.NewConfig()
	cfg.ClientID = "kafscale-compat"
	cfg.Version = sarama.V2_8_0_0 // idempotence needs >= V0_11_0_0
	cfg.Metadata.AllowAutoTopicCreation = false
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1                   // required by sarama for idempotence
	cfg.Producer.RequiredAcks = sarama.WaitForAll // required by sarama for idempotence
	cfg.Producer.Retry.Max = 3                    // must be > 0 for idempotence (3 is the default)
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Compression = sarama.CompressionGZIP
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond

	prod, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("cannot create sarama producer for %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = prod.Close() })
	msgs := make([]*sarama.ProducerMessage, len(want))
	for i, r := range want {
		m := &sarama.ProducerMessage{
			Topic:     topic,
			Partition: r.Partition,
			Key:       sarama.ByteEncoder(r.Key),
			Value:     sarama.ByteEncoder(r.Value),
			Timestamp: time.UnixMilli(r.Timestamp),
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatalf("cannot send %d messages to %s: %v", len(msgs), topic, err)
	}
	for i, m := range msgs {
		if m.Partition != want[i].Partition || m.Offset != want[i].Offset {
			t.Fatalf("message %d acknowledged at partition %d offset %d, want partition %d offset %d",
				i, m.Partition, m.Offset, want[i].Partition, want[i].Offset)
		}
	}

	cons, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("cannot create sarama consumer for %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = cons.Close() })
	var got []rec
	for p, count := range countByPartition(want) {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("cannot consume partition %d of %s: %v", p, topic, err)
		}
		for i := int64(0); i < count; i++ {
			select {
			case m := <-pc.Messages():
				g := rec{
					Partition: m.Partition,
					Offset:    m.Offset,
					Key:       m.Key,
					Value:     m.Value,
					Timestamp: m.Timestamp.UnixMilli(),
				}
				for _, h := range m.Headers {
					g.Headers = append(g.Headers, hdr{Key: string(h.Key), Value: h.Value})
				}
				got = append(got, g)
			case cerr := <-pc.Errors():
				t.Fatalf("cannot consume partition %d of %s: %v", p, topic, cerr)
			case <-ctx.Done():
				t.Fatalf("partition %d: read %d of %d messages before the deadline", p, i, count)
			}
		}
		if err := pc.Close(); err != nil {
			t.Fatalf("cannot close consumer of partition %d: %v", p, err)
		}
	}
	checkLog(t, want, got)
	checkIdempotentProducers(t, addr, topic, countByPartition(want), true)
}
