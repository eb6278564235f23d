package broker

// Produce: versions 3-11 (magic 2 record batches only; KIP-896 baseline v3), listed in
// ApiVersions from v0 as Kafka 4 does for librdkafka (KAFKA-18659). Each partition's
// records are split into batches, validated (length, magic, CRC32C) and their records walked
// as Kafka's LogValidator does (compressed ones through a bounded streaming decompression); a
// bad batch gets CORRUPT_MESSAGE (also for compressed bytes that do not decompress), or
// INVALID_RECORD for a wrong magic, record count, offset delta or record structure, and
// nothing of that partition is stored; more than max.message.bytes, or records decompressing
// to more than codec.DecompressedLimit of it, gets MESSAGE_TOO_LARGE. Offsets are assigned under the partition lock and patched in place.
// acks=1 and acks=all are answered after the flush object holding every batch is uploaded
// and committed in etcd; acks=0 is appended the same way with no answer, and an error closes
// the connection, as in Kafka. Batches of idempotent producers are checked against the
// partition's producer state before offsets are assigned: a retried duplicate of one of the
// producer's last five batches gets the original's offsets (after the original is durable)
// and is not stored again; a gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch
// INVALID_PRODUCER_EPOCH. Transactional batches get TRANSACTIONAL_ID_AUTHORIZATION_FAILED
// (transactions are not supported yet). From v10, a partition answered
// NOT_LEADER_OR_FOLLOWER names its current leader (KIP-951, leader_hints.go).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/flush"
	"github.com/kafscale/kafscale/lifecycle"
	"github.com/kafscale/kafscale/quota"
	"github.com/kafscale/kafscale/reqmetrics"
	"github.com/kafscale/kafscale/topicmetrics"
)

func init() {
	register(kmsg.Produce, 3, 11, (*Broker).handleProduce)
	// librdkafka before 2.11.1 (librdkafka issue 4956) sends gzip, snappy and lz4 batches
	// uncompressed unless the broker lists Produce v0, and Debian ships such librdkafka
	// (kcat, python3-confluent-kafka). Kafka 4 lists Produce from v0 for this reason and
	// closes the connection on a v0-v2 request like on any version it does not serve
	// (KAFKA-18659); so do we. Clients pick the highest common version, so none sends v0-v2.
	advertiseFrom(kmsg.Produce, 0)
}

// producePart tracks one partition's answer until its flushes are committed.
type producePart struct {
	rp      *kmsg.ProduceResponseTopicPartition
	sink    flush.Sink
	flushes []*flush.Flush
}

func (b *Broker) handleProduce(c *call) {
	req := c.kreq.(*kmsg.ProduceRequest)
	produceRequests.Inc()
	// Batches alias the frame; the partition's tail and the flusher keep them alive.
	c.req.Detach()
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	var total int64
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			total += int64(len(rp.Records))
		}
	}
	topLevel := int16(0)
	switch {
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		topLevel = kerr.InvalidRequiredAcks.Code
	case req.TransactionID != nil:
		topLevel = kerr.TransactionalIDAuthorizationFailed.Code
	}
	// The byte quota is measured at the request, the request quota at the answer
	// (respond), which keeps the longer throttle; acks=0 gets no answer and is left out
	// of the request quota, as in Kafka.
	resp.ThrottleMillis, _ = c.throttle(b, quota.ProducerByteRate, total)
	timeout := time.Duration(max(req.TimeoutMillis, 1000)) * time.Millisecond
	// Waiting for acks is bounded by Close, not by the shutdown's start: Drain commits what
	// was appended and answers its producers. Waiting for buffer space ends with the start.
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	var reserved int64
	if topLevel == 0 {
		rctx, rcancel := b.requestContext(timeout)
		// Waiting for buffer space (backpressure) is not handler time.
		c.clock.pause(time.Now())
		err := b.flusher.Reserve(rctx, total)
		c.clock.resume(time.Now())
		rcancel()
		if err != nil {
			topLevel = kerr.RequestTimedOut.Code
			if !errors.Is(err, context.DeadlineExceeded) {
				topLevel = kerr.KafkaStorageError.Code
			}
		} else {
			reserved = total
		}
	}
	var used int64
	var waits []producePart
	anyErr := false
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		// Both levels are sized up front: waits keeps pointers into them.
		ot := &resp.Topics[i]
		ot.Default()
		ot.Topic = rt.Topic
		ot.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		t := b.topicByName(rt.Topic)
		allowed := c.may(acl.Topic, rt.Topic)
		for j, rp := range rt.Partitions {
			op := &ot.Partitions[j]
			op.Default()
			op.Partition = rp.Partition
			op.BaseOffset = -1
			op.LogAppendTime = -1
			op.LogStartOffset = -1
			var fls []*flush.Flush
			var err error
			if topLevel != 0 {
				op.ErrorCode = topLevel
			} else if !allowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else {
				var n int64
				fls, n, err = b.appendPartition(t, rp, op)
				used += n
				if err != nil {
					op.ErrorCode = errCodeOf(err)
					if req.Version >= 8 {
						op.ErrorMessage = errMessage(err)
					}
				}
			}
			if op.ErrorCode != 0 {
				anyErr = true
			}
			if len(fls) > 0 {
				waits = append(waits, producePart{rp: op, sink: t.parts[rp.Partition].log, flushes: fls})
			}
		}
	}
	if reserved > used {
		b.flusher.Unreserve(reserved - used)
	}
	if req.Acks == 0 {
		cancel()
		if anyErr {
			// No answer carries the codes; they count as answered, since the client
			// learns of them (its connection is closed).
			reqmetrics.CountResponse(resp)
			c.req.Close(fmt.Errorf("acks=0 produce failed for at least one partition"))
			return
		}
		c.req.NoResponse()
		return
	}
	answer := func() {
		if req.Version >= produceLeaderHintVersion {
			b.addProduceLeaderHints(resp, listenerOf(c))
		}
		c.respond(resp)
	}
	if len(waits) == 0 {
		cancel()
		answer()
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		for _, w := range waits {
			for _, fl := range w.flushes {
				if err := fl.Wait(ctx, w.sink); err != nil {
					w.rp.ErrorCode = errCode(err)
					w.rp.BaseOffset = -1
					break
				}
			}
		}
		// The wait for acks is not handler time; answering is.
		c.clock.resume(time.Now())
		answer()
	}()
}

// appendPartition validates and appends one partition's records; it returns the flushes to
// wait for and the bytes it appended.
func (b *Broker) appendPartition(t *topic, rp kmsg.ProduceRequestTopicPartition, op *kmsg.ProduceResponseTopicPartition) ([]*flush.Flush, int64, error) {
	if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) || t.parts[rp.Partition] == nil {
		if notServedCode(t, rp.Partition, 0) != 0 {
			return nil, 0, newKafkaError(kerr.NotLeaderForPartition, "broker %d does not lead partition %d", b.cfg.NodeID, rp.Partition)
		}
		return nil, 0, newKafkaError(kerr.UnknownTopicOrPartition, "unknown topic or partition %d", rp.Partition)
	}
	batches, err := codec.SplitBatches(rp.Records)
	if err != nil {
		return nil, 0, newKafkaError(kerr.CorruptMessage, "%v", err)
	}
	if len(batches) == 0 {
		return nil, 0, newKafkaError(kerr.InvalidRecord, "no record batch")
	}
	headers := make([]codec.BatchHeader, len(batches))
	maxBytes := t.maxMessageBytes
	keyed := lifecycle.Compacted(t.meta)
	for i, bt := range batches {
		if len(bt) > maxBytes {
			// Kafka limits each batch, not the partition's whole records field.
			return nil, 0, newKafkaError(kerr.MessageTooLarge, "record batch of %d bytes exceeds max.message.bytes %d", len(bt), maxBytes)
		}
		h, err := codec.ValidateBatch(bt)
		switch {
		case errors.Is(err, codec.ErrUnsupportedMagic):
			return nil, 0, newKafkaError(kerr.InvalidRecord, "%v", err)
		case err != nil:
			return nil, 0, newKafkaError(kerr.CorruptMessage, "%v", err)
		case h.IsControl():
			return nil, 0, newKafkaError(kerr.InvalidRecord, "clients may not write control batches")
		case h.IsTransactional():
			return nil, 0, newKafkaError(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported yet")
		case h.ProducerID >= 0 && (h.ProducerEpoch < 0 || h.BaseSequence < 0):
			return nil, 0, newKafkaError(kerr.InvalidRecord, "idempotent batch with producer epoch %d and sequence %d", h.ProducerEpoch, h.BaseSequence)
		case h.NumRecords <= 0 || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1:
			return nil, 0, newKafkaError(kerr.InvalidRecord, "batch holds %d records but its last offset delta is %d", h.NumRecords, h.LastOffsetDelta)
		}
		// Every record is walked (compressed ones through a bounded stream) before anything
		// is stored, as Kafka's LogValidator does: nothing a consumer cannot decode is kept.
		validate := codec.ValidateRecords
		if keyed {
			validate = codec.ValidateKeyedRecords
		}
		if err := validate(bt, codec.DecompressedLimit(maxBytes)); err != nil {
			code := kerr.InvalidRecord
			switch {
			case errors.Is(err, codec.ErrDecompressedTooLarge):
				code = kerr.MessageTooLarge
			case errors.Is(err, codec.ErrCorruptBatch):
				code = kerr.CorruptMessage
			}
			return nil, 0, newKafkaError(code, "%v", err)
		}
		headers[i] = h
	}
	l := t.parts[rp.Partition].log
	logStart, _, _ := l.Offsets()
	op.LogStartOffset = logStart
	var fls []*flush.Flush
	var used int64
	for i, bt := range batches {
		res, err := l.Append(bt, headers[i])
		if err != nil {
			// Leadership loss or a producer-state check; earlier batches of this request
			// stay appended (Kafka sends one batch per partition per request).
			return fls, used, err
		}
		if !res.Duplicate {
			used += int64(len(bt))
			tr := topicmetrics.For(t.meta.Name)
			tr.BytesIn.Add(len(bt))
			tr.RecordsIn.Add(int(headers[i].NumRecords))
		}
		if i == 0 {
			op.BaseOffset = res.BaseOffset
		}
		if res.Flush != nil && (len(fls) == 0 || fls[len(fls)-1] != res.Flush) {
			fls = append(fls, res.Flush)
		}
	}
	producedBytes.Add(int(used))
	return fls, used, nil
}
