package broker

// Fetch: versions 4-16 (magic 2 only; topic ids from v13, flexible from v12). A fetch that
// found less than MinBytes parks until the high watermark of a partition it reads moves
// (partition.Waiter: a commit wakes only the fetches reading its partitions), its leadership
// ends, or MaxWaitMillis passes; MinBytes is honoured across partitions. Each partition's
// high watermark and log start are the ones its read was bounded by, so the records returned
// never lie past the high watermark answered. Records are the stored batches themselves:
// recent ones from the partition's in-memory tail, older ones from flush objects through the
// range cache; only headers are encoded (codec's fast path) and batch bytes go out as their
// own iovecs. Per KIP-74 the first non-empty partition gets at least one whole batch even if it
// exceeds PartitionMaxBytes or MaxBytes. Fetch sessions (KIP-227) are answered sessionless:
// SessionID 0 tells the client no session was created, so it keeps sending full fetches. A
// full fetch (epoch 0 or -1) naming a session is served as Kafka does (which would close that
// session); an incremental fetch (epoch > 0) of a session we never made gets
// FETCH_SESSION_ID_NOT_FOUND. CurrentLeaderEpoch is checked
// (KIP-320). read_committed sees the high watermark (no transactions yet). From v16, a
// partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names its current leader
// (KIP-951, leader_hints.go).

import (
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/reqmetrics"
	"github.com/kafscale/kafscale/topicmetrics"
)

func init() { register(kmsg.Fetch, 4, 16, (*Broker).handleFetch) }

var (
	// parkedFetches is the fetches waiting for data now (long polls): each holds a
	// goroutine and a waiter on every partition it reads until it answers.
	parkedFetches = metrics.NewGauge(`kafscale_fetch_parked`, nil)
	// fetchesParked counts fetches that parked at all, to tell long polls from fetches
	// answered at once (kafscale_fetch_requests_total counts both).
	fetchesParked = metrics.NewCounter(`kafscale_fetch_parked_total`)
)

type fetchPart struct {
	out      *codec.FetchPartition
	log      *partition.Log
	offset   int64
	maxBytes int64
	epoch    int32
	hw       int64 // the high watermark the last fill saw
}

func (b *Broker) handleFetch(c *call) {
	req := c.kreq.(*kmsg.FetchRequest)
	fetchRequests.Inc()
	resp := &codec.FetchResponse{}
	if req.Version >= 7 && req.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		b.sendFetch(c, resp)
		return
	}
	var parts []fetchPart
	resp.Topics = make([]codec.FetchTopic, len(req.Topics))
	for i, rt := range req.Topics {
		var t *topic
		unknown := kerr.UnknownTopicOrPartition.Code
		if req.Version >= 13 {
			t = b.topicByID(rt.TopicID)
			unknown = kerr.UnknownTopicID.Code
		} else {
			t = b.topicByName(rt.Topic)
		}
		ot := &resp.Topics[i]
		ot.Topic = rt.Topic
		ot.TopicID = rt.TopicID
		if t != nil {
			ot.Topic = t.meta.Name
		}
		// A topic id names no topic to authorize until it is known (UNKNOWN_TOPIC_ID).
		allowed := (t == nil && req.Version >= 13) || c.may(acl.Topic, ot.Topic)
		ot.Partitions = make([]codec.FetchPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			op := &ot.Partitions[j]
			op.Partition = rp.Partition
			op.HighWatermark, op.LastStableOffset, op.LogStartOffset = -1, -1, -1
			if !allowed {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) || t.parts[rp.Partition] == nil {
				op.ErrorCode = notServedCode(t, rp.Partition, unknown)
				continue
			}
			parts = append(parts, fetchPart{out: op, log: t.parts[rp.Partition].log, offset: rp.FetchOffset, maxBytes: int64(rp.PartitionMaxBytes), epoch: rp.CurrentLeaderEpoch})
		}
	}
	maxWait := time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	maxBytes := int64(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 52428800 // fetch.max.bytes default, for versions without the field
	}
	maxBytes = min(maxBytes, c.fetchQuotaBytes(b))
	n, stop := b.fillFetch(parts, maxBytes)
	if stop || n >= int64(req.MinBytes) || maxWait == 0 {
		b.sendFetch(c, resp)
		return
	}
	// Parked: registered with each partition at the high watermark the fill saw, so a
	// commit between the fill and the registration wakes it at once.
	w := partition.NewWaiter()
	for i := range parts {
		parts[i].log.Wait(w, parts[i].hw)
	}
	fetchesParked.Inc()
	parkedFetches.Inc()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer parkedFetches.Dec()
		defer func() {
			for i := range parts {
				parts[i].log.Unwait(w)
			}
		}()
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		// The time parked is not handler time (request_percentage); the fills after a
		// wake-up and the answer are.
		for {
			select {
			case <-w:
				c.clock.resume(time.Now())
				n, stop = b.fillFetch(parts, maxBytes)
				if !stop && n < int64(req.MinBytes) && time.Now().Before(deadline) {
					c.clock.pause(time.Now())
					continue
				}
			case <-timer.C:
				c.clock.resume(time.Now())
				b.fillFetch(parts, maxBytes)
			case <-b.requests.Done():
				// Shutting down: answer with what the last pass found.
				c.clock.resume(time.Now())
			}
			b.sendFetch(c, resp)
			return
		}
	}()
}

// fillFetch reads every partition afresh; it returns the record bytes gathered and whether a
// partition error means the answer should go out now.
func (b *Broker) fillFetch(parts []fetchPart, maxBytes int64) (int64, bool) {
	var total int64
	stop := false
	// One bound for the whole pass: reads of cold data go to the object store.
	ctx, cancel := b.requestContext(30 * time.Second)
	defer cancel()
	// Start every partition's object reads before waiting for the first: a consumer
	// catching up on many partitions waits for one round of GETs, not one per partition.
	// At most maxBytes of ranges are started, as the answer holds at most that much.
	budget := maxBytes
	for i := range parts {
		if budget <= 0 {
			break
		}
		w := min(parts[i].maxBytes, budget)
		parts[i].log.Warm(parts[i].offset, w)
		budget -= w
	}
	for i := range parts {
		fp := &parts[i]
		op := fp.out
		op.Records = nil
		op.ErrorCode = 0
		op.HighWatermark, op.LastStableOffset, op.LogStartOffset = -1, -1, -1
		if err := fp.log.CheckEpoch(fp.epoch); err != nil {
			op.ErrorCode = errCode(err)
			stop = true
			continue
		}
		limit := min(fp.maxBytes, maxBytes-total)
		var recs [][]byte
		var logStart, hw int64
		if total == 0 || limit > 0 {
			var err error
			recs, logStart, hw, err = fp.log.ReadOffsets(ctx, fp.offset, max(limit, 1))
			if err != nil {
				op.ErrorCode = errCode(err)
				if op.ErrorCode != kerr.OffsetOutOfRange.Code {
					if !b.shuttingDown() {
						b.log.Warn("cannot read partition for fetch", "topic", fp.log.Topic(), "partition", fp.log.Partition(), "offset", fp.offset, "err", err)
					}
				}
				stop = true
				continue
			}
		} else {
			logStart, hw, _ = fp.log.Offsets()
		}
		fp.hw = hw
		var size int64
		for _, r := range recs {
			size += int64(len(r))
		}
		if total > 0 && size > limit {
			recs, size = nil, 0
		}
		op.Records = recs
		op.HighWatermark, op.LastStableOffset, op.LogStartOffset = hw, hw, logStart
		total += size
	}
	return total, stop
}

func (b *Broker) sendFetch(c *call, resp *codec.FetchResponse) {
	if c.hdr.APIVersion >= fetchLeaderHintVersion {
		b.addFetchLeaderHints(resp, listenerOf(c))
	}
	if c.hdr.APIKey == int16(kmsg.Fetch) {
		b.throttleFetch(c, resp)
	}
	countFetch(resp)
	parts, _ := codec.AppendFetchResponse(make([][]byte, 0, 8), make([]byte, 0, 512), c.hdr.APIVersion, c.hdr.CorrelationID, resp)
	var n int
	for _, p := range parts {
		n += len(p)
	}
	fetchedBytes.Add(n)
	c.send(parts)
}

// countFetch records a fetch answer's error codes and each topic's bytes and records out.
func countFetch(resp *codec.FetchResponse) {
	key := int16(kmsg.Fetch)
	reqmetrics.Count(key, resp.ErrorCode)
	for i := range resp.Topics {
		ft := &resp.Topics[i]
		var tr *topicmetrics.Traffic
		for j := range ft.Partitions {
			fp := &ft.Partitions[j]
			reqmetrics.Count(key, fp.ErrorCode)
			for _, r := range fp.Records {
				if tr == nil {
					tr = topicmetrics.For(ft.Topic)
				}
				tr.BytesOut.Add(len(r))
				tr.RecordsOut.Add(topicmetrics.CountRecords(r))
			}
		}
	}
}
