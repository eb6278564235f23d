package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultMaxPartitions is the default --max-partitions: the 10,000 partitions one broker is
// meant to serve (issue 20), whose memory the derived soft memory limit includes.
const DefaultMaxPartitions = 10000

// PartitionMemoryBytes is the memory budgeted per partition a broker leads, which the
// derived soft memory limit adds --max-partitions times. Measured with tests/scale at
// 1,000-10,000 partitions (docs/benchmarks.md): ~10 KiB of RSS per partition idle or
// after a small produce to each, with embedded etcd; 16 KiB leaves room for the
// producer state and in-memory tail of a partition that is written to. Tails holding more
// (up to --tail-bytes each) are bounded together by --tail-total-bytes, which the derived
// soft memory limit counts on its own, not by this figure.
const PartitionMemoryBytes = 16 << 10

// reservePartitions admits n new partitions on this broker within --max-partitions, or
// answers POLICY_VIOLATION, Kafka's answer to a creation over its partition limit
// (KAFKA-17870: "Excessively large number of partitions per request"). The reservation
// counts until release is called, so concurrent creations cannot pass the limit together;
// call release once the partitions are published in b.topics, or failed.
func (b *Broker) reservePartitions(n int32) (release func(), err error) {
	b.partMu.Lock()
	defer b.partMu.Unlock()
	led := b.countLedPartitions()
	if led+b.reservedParts+int64(n) > int64(b.cfg.MaxPartitions) {
		return nil, newKafkaError(kerr.PolicyViolation, "broker %d leads %d partitions (%d more being created); %d more would exceed --max-partitions %d",
			b.cfg.NodeID, led, b.reservedParts, n, b.cfg.MaxPartitions)
	}
	b.reservedParts += int64(n)
	return func() {
		b.partMu.Lock()
		defer b.partMu.Unlock()
		b.reservedParts -= int64(n)
		b.noteLedLocked()
	}, nil
}

// noteLed reports the number of partitions led to Deps.LedPartitions.
func (b *Broker) noteLed() {
	b.partMu.Lock()
	defer b.partMu.Unlock()
	b.noteLedLocked()
}

// noteLedLocked must be called with b.partMu held.
func (b *Broker) noteLedLocked() {
	if b.ledHook != nil {
		b.ledHook(b.countLedPartitions())
	}
}

// countLedPartitions counts the partitions this broker serves.
func (b *Broker) countLedPartitions() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var n int64
	for _, t := range b.topics {
		for _, ps := range t.parts {
			if ps != nil {
				n++
			}
		}
	}
	return n
}
