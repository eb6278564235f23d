// Package api holds protocol-level behaviour tests of each Kafka API KafScale serves
// (issue 4, acceptance points 3, 4 and 7), run against a real `kafscale dev` process.
// Requests are kmsg messages pinned to an exact version and sent as raw frames over a TCP
// connection, so every test knows which version the broker decoded and answered; Apache
// Kafka's behaviour is the reference.
package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// testTimeout bounds each test's context; every wire read and write is bounded by it.
const testTimeout = 60 * time.Second

// startBroker runs a fresh `kafscale dev` (stopped when t ends). When t ends, the broker's
// log must hold no "BUG:" line: the broker logs one when it catches an internal invariant
// broken.
func startBroker(t *testing.T, flags ...string) *testbroker.Process {
	t.Helper()
	b := testbroker.Start(t, flags...)
	t.Cleanup(func() { checkNoBug(t, b, 0) })
	return b
}

// logMark returns the length of the broker's log so far, for checkNoBug.
func logMark(b *testbroker.Process) int { return len(b.LogTail(256 << 20)) }

// checkNoBug fails t if the broker's log after mark holds a "BUG:" line, waiting briefly
// for the log to catch up with what the broker wrote.
func checkNoBug(t *testing.T, b *testbroker.Process, mark int) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	log := b.LogTail(256 << 20)
	for line := range strings.Lines(log[min(mark, len(log)):]) {
		if strings.Contains(line, "BUG:") {
			t.Errorf("broker logged an internal error: %s", strings.TrimSpace(line))
		}
	}
}

// testContext returns a context that ends with t or after testTimeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

var topicSeq atomic.Int64

// topicName returns a topic name unique in this test binary, derived from the test's name.
func topicName(t *testing.T) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 180 {
		s = s[len(s)-180:]
	}
	return fmt.Sprintf("%s-%d", s, topicSeq.Add(1))
}

// conn is one raw connection speaking hand-framed Kafka requests. Used by one goroutine.
type conn struct {
	t    *testing.T
	ctx  context.Context
	nc   net.Conn
	corr int32
}

// dial connects to addr; the connection is closed when ctx ends or t finishes.
func dial(ctx context.Context, t *testing.T, addr string) *conn {
	t.Helper()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("cannot dial %s: %v", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	t.Cleanup(func() { stop(); _ = nc.Close() })
	return &conn{t: t, ctx: ctx, nc: nc}
}

// frame returns req as one request frame: size, header v1 (v2 with an empty tag section
// when req's version is flexible), body.
func frame(req kmsg.Request, corr int32) []byte {
	clientID := "kafscale-api-test"
	b := make([]byte, 4, 128)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &clientID)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// send writes req with the next correlation id and returns that id.
func (c *conn) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	if _, err := c.nc.Write(frame(req, c.corr)); err != nil {
		c.t.Fatalf("cannot send %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return c.corr
}

// readFrame reads one response frame and returns it without its size.
func (c *conn) readFrame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 256<<20 {
		return nil, fmt.Errorf("response frame size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil, err
	}
	return body, nil
}

// receive reads the response to corr and decodes it into resp (whose version says how).
func (c *conn) receive(corr int32, resp kmsg.Response) {
	c.t.Helper()
	name := kmsg.NameForKey(resp.Key())
	body, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("cannot read %s v%d response: %v", name, resp.GetVersion(), err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		c.t.Fatalf("%s response has correlation id %d, want %d", name, got, corr)
	}
	body = body[4:]
	// ApiVersions responses keep header v0 even at flexible versions (KIP-511).
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		if err := r.Complete(); err != nil {
			c.t.Fatalf("cannot read %s response header tags: %v", name, err)
		}
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("cannot decode %s v%d response: %v", name, resp.GetVersion(), err)
	}
}

// do sends req at its version and returns the response at the same version.
func (c *conn) do(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	resp := req.ResponseKind()
	c.receive(c.send(req), resp)
	return resp
}

// awaitClose reads until the broker closes the connection or 10 s pass and returns what it
// read; closed is false if the connection was still open.
func (c *conn) awaitClose() (read []byte, closed bool) {
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := c.nc.Read(buf)
		read = append(read, buf[:n]...)
		if err != nil {
			var ne net.Error
			if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) {
				return read, false
			}
			return read, true
		}
	}
}

// errName names a Kafka error code for messages.
func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return fmt.Sprintf("%s(%d)", ke.Message, code)
		}
	}
	return fmt.Sprintf("error %d", code)
}

// wantCode fails t unless got is want.
func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	w := int16(0)
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: got %s, want %s", what, errName(got), errName(w))
	}
}

// ---- topics ----

// createTopic creates a topic (CreateTopics v7) and returns its id.
func createTopic(t *testing.T, c *conn, name string, partitions int32, configs map[string]string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, rc)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics answers %d topics for one", len(resp.Topics))
	}
	wantCode(t, "CreateTopics "+name, resp.Topics[0].ErrorCode, nil)
	return resp.Topics[0].TopicID
}

// metadataTopic returns the Metadata v12 entry of a named topic, without auto-creation.
func metadataTopic(t *testing.T, c *conn, name string) kmsg.MetadataResponseTopic {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("Metadata answers %d topics for one", len(resp.Topics))
	}
	return resp.Topics[0]
}

// leaderEpoch returns the leader epoch Metadata reports for topic/partition.
func leaderEpoch(t *testing.T, c *conn, topic string, partition int32) int32 {
	t.Helper()
	mt := metadataTopic(t, c, topic)
	wantCode(t, "Metadata "+topic, mt.ErrorCode, nil)
	for _, p := range mt.Partitions {
		if p.Partition == partition {
			wantCode(t, fmt.Sprintf("Metadata %s/%d", topic, partition), p.ErrorCode, nil)
			return p.LeaderEpoch
		}
	}
	t.Fatalf("Metadata of %s lacks partition %d", topic, partition)
	return 0
}

// ---- record batches ----

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// rec is one record to put in a batch.
type rec struct {
	key, value []byte
	ts         int64 // absolute, ms
}

// codecGzip is the gzip compression attribute.
const codecGzip = 1

// makeBatch returns a valid v2 record batch of recs at offsets 0.., with no producer id,
// compressed with gzip when compression is codecGzip.
func makeBatch(compression int16, recs ...rec) []byte {
	if len(recs) == 0 {
		panic("makeBatch: no records")
	}
	first, maxTS := recs[0].ts, recs[0].ts
	for _, r := range recs {
		first = min(first, r.ts)
		maxTS = max(maxTS, r.ts)
	}
	var raw []byte
	for i, r := range recs {
		var body []byte
		body = append(body, 0)
		body = kbin.AppendVarlong(body, r.ts-first)
		body = kbin.AppendVarint(body, int32(i))
		body = kbin.AppendVarintBytes(body, r.key)
		body = kbin.AppendVarintBytes(body, r.value)
		body = kbin.AppendVarint(body, 0)
		raw = kbin.AppendVarint(raw, int32(len(body)))
		raw = append(raw, body...)
	}
	if compression == codecGzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		raw = buf.Bytes()
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           compression,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:21], crc32cOf(out[21:]))
	return out
}

// batchOf returns an uncompressed batch of n records with values of size bytes, stamped now.
func batchOf(n, size int) []byte {
	now := time.Now().UnixMilli()
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{key: fmt.Appendf(nil, "k%d", i), value: bytes.Repeat([]byte{byte('a' + i%26)}, size), ts: now}
	}
	return makeBatch(0, recs...)
}

// crc32cOf is the CRC32C a batch header carries over its bytes from the attributes on.
func crc32cOf(b []byte) uint32 { return crc32.Checksum(b, crc32c) }

// batchBase returns a batch's base offset.
func batchBase(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

// splitBatches splits record bytes into whole batches, ignoring a partial trailing batch (a
// broker may cut one off at a byte limit, as Kafka does).
func splitBatches(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) >= 12 {
		n := int(binary.BigEndian.Uint32(b[8:12])) + 12
		if n > len(b) {
			break
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// ---- produce, fetch, list offsets ----

// producePart is one partition's records in a produce request.
type producePart struct {
	topic     string
	partition int32
	records   []byte
}

// produceReq builds a Produce request of the given version and acks.
func produceReq(version, acks int16, parts ...producePart) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = 30000
	for _, p := range parts {
		i := -1
		for j := range req.Topics {
			if req.Topics[j].Topic == p.topic {
				i = j
			}
		}
		if i < 0 {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
		}
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p.partition
		rp.Records = p.records
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	return req
}

// produce sends records to one partition (Produce v9, acks=all) and returns its answer.
func produce(t *testing.T, c *conn, topic string, partition int32, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp := c.do(produceReq(9, -1, producePart{topic, partition, records})).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Produce to one partition answers %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// produceOK produces records to one partition, fails t on an error, returns the base offset.
func produceOK(t *testing.T, c *conn, topic string, partition int32, records []byte) int64 {
	t.Helper()
	p := produce(t, c, topic, partition, records)
	wantCode(t, fmt.Sprintf("Produce to %s/%d", topic, partition), p.ErrorCode, nil)
	return p.BaseOffset
}

// fetchReq builds a Fetch request for one partition by name (v <= 12) or id (v >= 13).
func fetchReq(version int16, topic string, id [16]byte, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 50 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = 10 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchOne sends a one-partition fetch and returns the response and its only partition.
func fetchOne(t *testing.T, c *conn, req *kmsg.FetchRequest) (*kmsg.FetchResponse, kmsg.FetchResponseTopicPartition) {
	t.Helper()
	resp := c.do(req).(*kmsg.FetchResponse)
	wantCode(t, "Fetch top-level error", resp.ErrorCode, nil)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Fetch of one partition answers %d topics", len(resp.Topics))
	}
	return resp, resp.Topics[0].Partitions[0]
}

// fetchAll returns every batch of topic/partition from offset 0 (Fetch v12, no waiting).
func fetchAll(t *testing.T, c *conn, topic string, partition int32) (batches [][]byte, hw int64) {
	t.Helper()
	_, p := fetchOne(t, c, fetchReq(12, topic, [16]byte{}, partition, 0))
	wantCode(t, fmt.Sprintf("Fetch %s/%d", topic, partition), p.ErrorCode, nil)
	return splitBatches(t, p.RecordBatches), p.HighWatermark
}

// listOffset asks ListOffsets (at version) for one partition and timestamp.
func listOffset(t *testing.T, c *conn, version int16, topic string, partition int32, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = version
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.CurrentLeaderEpoch = -1
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("ListOffsets of one partition answers %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// highWatermark returns the latest offset (ListOffsets v7, -1) of topic/partition.
func highWatermark(t *testing.T, c *conn, topic string, partition int32) int64 {
	t.Helper()
	p := listOffset(t, c, 7, topic, partition, -1)
	wantCode(t, fmt.Sprintf("ListOffsets latest %s/%d", topic, partition), p.ErrorCode, nil)
	return p.Offset
}
