package compat

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestKafkaGoWriterAndPartitionReaderRoundTrip: kafka-go has no idempotent producer (its
// Writer never sends InitProducerId and its batches carry producer id -1), so it runs as
// before, and DescribeProducers must show no producer state for what it wrote.
func TestKafkaGoWriterAndPartitionReaderRoundTrip(t *testing.T) {
	const (
		n          = 400
		partitions = 2
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := startBroker(t)
	topic := topicName("kafka-go")
	createTopic(t, addr, topic, partitions)
	// No null/empty mix: kafka-go reads an empty key or value back as null.
	want := makeRecords("kafka-go", n, partitions, false)

	w := &kafka.Writer{
		Addr:  kafka.TCP(addr),
		Topic: topic,
		// The partition is in the record's idx header: i%partitions, as makeRecords chose.
		Balancer: kafka.BalancerFunc(func(m kafka.Message, ps ...int) int {
			for _, h := range m.Headers {
				if h.Key == "idx" {
					i, _ := strconv.Atoi(string(h.Value))
					return ps[i%len(ps)]
				}
			}
			return ps[0]
		}),
		RequiredAcks: kafka.RequireAll,
		Compression:  kafka.Snappy,
		BatchSize:    50,
		BatchTimeout: 5 * time.Millisecond,
		MaxAttempts:  1, // without idempotence a retry could reorder or duplicate; the check must see the first try
	}
	t.Cleanup(func() { _ = w.Close() })
	msgs := make([]kafka.Message, len(want))
	for i, r := range want {
		m := kafka.Message{Key: r.Key, Value: r.Value, Time: time.UnixMilli(r.Timestamp)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("cannot write %d messages to %s: %v", len(msgs), topic, err)
	}

	var got []rec
	for p, count := range countByPartition(want) {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:     []string{addr},
			Topic:       topic,
			Partition:   int(p),
			StartOffset: kafka.FirstOffset,
			MinBytes:    1,
			MaxBytes:    1 << 20,
			MaxWait:     200 * time.Millisecond,
		})
		for i := int64(0); i < count; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				_ = r.Close()
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("partition %d: read %d of %d messages before the deadline", p, i, count)
				}
				t.Fatalf("cannot read partition %d of %s: %v", p, topic, err)
			}
			g := rec{
				Partition: int32(m.Partition),
				Offset:    m.Offset,
				Key:       m.Key,
				Value:     m.Value,
				Timestamp: m.Time.UnixMilli(),
			}
			for _, h := range m.Headers {
				g.Headers = append(g.Headers, hdr{Key: h.Key, Value: h.Value})
			}
			got = append(got, g)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("cannot close reader of partition %d: %v", p, err)
		}
	}
	checkLog(t, want, got)
	checkNoProducers(t, addr, topic, countByPartition(want))
}
