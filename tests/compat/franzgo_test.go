package compat

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// franzRecords and franzPartitions size the franz-go round trips (issue 4: 10,000 records
// over 4 partitions with each codec).
const (
	franzRecords    = 10000
	franzPartitions = 4
	franzTimeout    = 90 * time.Second
)

// TestFranzGoRoundTripsEveryCodecWithAcksAll produces with franz-go's defaults: idempotent,
// acks=all. DescribeProducers must then show the one producer id on every partition.
func TestFranzGoRoundTripsEveryCodecWithAcksAll(t *testing.T) {
	addr := startBroker(t)
	for _, tc := range []struct {
		name  string
		codec kgo.CompressionCodec
		attr  uint8 // the batch attributes' compression bits the consumer must see
	}{
		{"none", kgo.NoCompression(), 0},
		{"gzip", kgo.GzipCompression(), 1},
		{"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 3},
		{"zstd", kgo.ZstdCompression(), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			franzRoundTrip(t, addr, tc.name, nil, tc.codec, tc.attr, true)
		})
	}
}

// TestFranzGoRoundTripsWithLeaderAckAndNoAck keeps the acks levels below all. franz-go
// requires acks=all for idempotence (kgo.NewClient fails with "idempotency requires
// acks=all"), as Kafka's own clients do, so these producers disable it: their batches carry
// producer id -1 and the broker must keep no producer state for them.
func TestFranzGoRoundTripsWithLeaderAckAndNoAck(t *testing.T) {
	addr := startBroker(t)
	for _, tc := range []struct {
		name        string
		acks        kgo.Acks
		knowsOffset bool // acks=0 answers nothing, so the producer learns no offsets
	}{
		{"acks=1", kgo.LeaderAck(), true},
		{"acks=0", kgo.NoAck(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			franzRoundTrip(t, addr, "lz4", []kgo.Opt{kgo.RequiredAcks(tc.acks), kgo.DisableIdempotentWrite()},
				kgo.Lz4Compression(), 3, tc.knowsOffset)
		})
	}
}

// franzRoundTrip produces franzRecords records to a fresh topic with one codec, reads them
// back from the start of every partition and checks the log, and that every batch came back
// compressed as produced (the broker stores batches as sent). The producer has franz-go's
// defaults (idempotent, acks=all) unless nonIdempotent overrides them: it must hold
// kgo.DisableIdempotentWrite() and may set lower acks. DescribeProducers must then show one
// idempotent producer on every partition, or none without idempotence.
func franzRoundTrip(t *testing.T, addr, codecName string, nonIdempotent []kgo.Opt, codec kgo.CompressionCodec, attr uint8, knowsOffset bool) {
	ctx, cancel := context.WithTimeout(context.Background(), franzTimeout)
	defer cancel()
	topic := topicName("franz-" + codecName)
	createTopic(t, addr, topic, franzPartitions)
	want := makeRecords("franz", franzRecords, franzPartitions, true)

	prod := newClient(t, addr, append([]kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(codec),
	}, nonIdempotent...)...)
	krs := make([]*kgo.Record, len(want))
	for i, w := range want {
		kr := &kgo.Record{
			Topic:     topic,
			Partition: w.Partition,
			Key:       w.Key,
			Value:     w.Value,
			Timestamp: time.UnixMilli(w.Timestamp),
		}
		for _, h := range w.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		krs[i] = kr
	}
	if err := prod.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("cannot produce to %s: %v", topic, err)
	}
	if knowsOffset {
		for i, kr := range krs {
			if kr.Offset != want[i].Offset {
				t.Fatalf("record %d acknowledged at partition %d offset %d, want offset %d", i, kr.Partition, kr.Offset, want[i].Offset)
			}
		}
	}

	counts := countByPartition(want)
	got, attrs := franzConsume(ctx, t, addr, topic, counts)
	checkLog(t, want, got)
	for a, n := range attrs {
		if a != attr {
			t.Errorf("%d records came back in batches with compression %d, want %d", n, a, attr)
		}
	}
	if nonIdempotent == nil {
		checkIdempotentProducers(t, addr, topic, counts, true)
	} else {
		checkNoProducers(t, addr, topic, counts)
	}
}

// franzConsume reads each partition of topic from its start until it has counts[p]
// records, checks that no partition's high watermark passes its count (nothing stored
// twice), and returns the records and how many came in batches of each compression type.
func franzConsume(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int64) ([]rec, map[uint8]int) {
	t.Helper()
	offsets := make(map[int32]kgo.Offset, len(counts))
	var remaining int64
	for p, n := range counts {
		offsets[p] = kgo.NewOffset().AtStart()
		remaining += n
	}
	cl := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	var (
		got   []rec
		attrs = make(map[uint8]int)
		hwm   = make(map[int32]int64)
		read  = make(map[int32]int64)
	)
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		for _, fe := range fs.Errors() {
			t.Fatalf("cannot consume %s partition %d after %d records: %v", fe.Topic, fe.Partition, len(got), fe.Err)
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			hwm[fp.Partition] = max(hwm[fp.Partition], fp.HighWatermark)
			for _, kr := range fp.Records {
				r := rec{
					Partition: kr.Partition,
					Offset:    kr.Offset,
					Key:       kr.Key,
					Value:     kr.Value,
					Timestamp: kr.Timestamp.UnixMilli(),
				}
				for _, h := range kr.Headers {
					r.Headers = append(r.Headers, hdr{Key: h.Key, Value: h.Value})
				}
				got = append(got, r)
				attrs[kr.Attrs.CompressionType()]++
				read[kr.Partition]++
				if read[kr.Partition] <= counts[kr.Partition] {
					remaining--
				}
			}
		})
	}
	for p, n := range counts {
		if hwm[p] != n {
			t.Errorf("partition %d high watermark %d after producing %d records", p, hwm[p], n)
		}
	}
	return got, attrs
}
