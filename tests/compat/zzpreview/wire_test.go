package compat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wireTimeout bounds every raw read and write, and how long a broker may take to close a
// connection it must close.
const wireTimeout = 10 * time.Second

// wireConn is one raw TCP connection speaking hand-framed Kafka requests. Used by one
// goroutine.
type wireConn struct {
	t    *testing.T
	conn net.Conn
	corr int32
}

func dialWire(t *testing.T, addr string) *wireConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wireTimeout)
	if err != nil {
		t.Fatalf("cannot dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &wireConn{t: t, conn: c}
}

// requestFrame returns req as one frame: the 4-byte size, request header v1 (v2, with an
// empty tagged-field section, when req's version is flexible), then the body.
func requestFrame(req kmsg.Request, corr int32) []byte {
	clientID := "kafscale-compat"
	b := make([]byte, 4, 64)
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

// write sends raw bytes. A broker that closes the connection early may make it fail;
// hostile cases ignore that and judge by what they read.
func (w *wireConn) write(b []byte) error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(wireTimeout))
	_, err := w.conn.Write(b)
	return err
}

// readFrame reads one response frame and returns it without its size prefix.
func (w *wireConn) readFrame() ([]byte, error) {
	_ = w.conn.SetReadDeadline(time.Now().Add(wireTimeout))
	var size [4]byte
	if _, err := io.ReadFull(w.conn, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return nil, fmt.Errorf("response frame size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(w.conn, body); err != nil {
		return nil, err
	}
	return body, nil
}

// send writes req with the next correlation ID and returns that ID.
func (w *wireConn) send(req kmsg.Request) int32 {
	w.t.Helper()
	w.corr++
	if err := w.write(requestFrame(req, w.corr)); err != nil {
		w.t.Fatalf("cannot send %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return w.corr
}

// roundTrip sends req and decodes its response at req's version, failing t on any error.
func (w *wireConn) roundTrip(req kmsg.Request) kmsg.Response {
	w.t.Helper()
	resp := req.ResponseKind()
	w.roundTripInto(req, resp)
	return resp
}

// roundTripInto sends req and decodes the response into resp, whose version may differ
// from req's (an ApiVersions answer to an unsupported version is v0).
func (w *wireConn) roundTripInto(req kmsg.Request, resp kmsg.Response) {
	w.t.Helper()
	name := kmsg.NameForKey(req.Key())
	corr := w.send(req)
	body, err := w.readFrame()
	if err != nil {
		w.t.Fatalf("cannot read %s v%d response: %v", name, req.GetVersion(), err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		w.t.Fatalf("%s response has correlation ID %d, want %d", name, got, corr)
	}
	body = body[4:]
	// ApiVersions responses keep header v0 even at flexible versions (KIP-511).
	if resp.IsFlexible() && resp.Key() != 18 {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		if err := r.Complete(); err != nil {
			w.t.Fatalf("cannot read %s response header tags: %v", name, err)
		}
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		w.t.Fatalf("cannot decode %s v%d response: %v", name, resp.GetVersion(), err)
	}
}

// awaitClose reads until the broker closes the connection or wireTimeout passes, and
// returns what it read. closed is false if the connection was still open at the deadline.
func (w *wireConn) awaitClose() (read []byte, closed bool) {
	_ = w.conn.SetReadDeadline(time.Now().Add(wireTimeout))
	buf := make([]byte, 4096)
	for {
		n, err := w.conn.Read(buf)
		read = append(read, buf[:n]...)
		if err != nil {
			var ne net.Error
			if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) {
				return read, false
			}
			return read, true // EOF or reset: closed
		}
	}
}

// expectClosedSilently fails t unless the broker closes the connection without answering.
func (w *wireConn) expectClosedSilently(after string) {
	w.t.Helper()
	read, closed := w.awaitClose()
	switch {
	case !closed:
		w.t.Fatalf("broker kept the connection open %v after %s", wireTimeout, after)
	case len(read) > 0:
		w.t.Fatalf("broker answered %d bytes (% x) to %s, want the connection closed", len(read), clipN(read, 32), after)
	}
}

// expectClosedOrAnswered fails t unless the broker either closes the connection or
// answers correlation ID corr.
func (w *wireConn) expectClosedOrAnswered(corr int32, after string) {
	w.t.Helper()
	read, closed := w.awaitClose()
	if len(read) == 0 {
		if !closed {
			w.t.Fatalf("broker neither answered nor closed the connection %v after %s", wireTimeout, after)
		}
		return
	}
	if len(read) < 8 || int32(binary.BigEndian.Uint32(read[4:8])) != corr {
		w.t.Fatalf("broker answered %s with % x, want the connection closed or a response to correlation ID %d", after, clipN(read, 32), corr)
	}
}

// brokerVersions returns the highest version of each API the broker at addr advertises.
func brokerVersions(t *testing.T, addr string) map[int16]int16 {
	t.Helper()
	w := dialWire(t, addr)
	resp := w.roundTrip(apiVersionsRequest(3)).(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("ApiVersions v3: %v", err)
	}
	out := make(map[int16]int16, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = k.MaxVersion
	}
	return out
}

func apiVersionsRequest(version int16) *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = version
	req.ClientSoftwareName = "kafscale-compat"
	req.ClientSoftwareVersion = "1.0.0"
	return req
}

// pinVersion sets req to the highest version both kmsg and the broker know, at most
// ceiling (higher versions change the request's shape, such as topic IDs instead of names),
// and fails t if that is below floor.
func pinVersion(t *testing.T, vers map[int16]int16, req kmsg.Request, floor, ceiling int16) {
	t.Helper()
	v, ok := vers[req.Key()]
	if !ok {
		t.Fatalf("broker does not advertise %s", kmsg.NameForKey(req.Key()))
	}
	v = min(v, req.MaxVersion(), ceiling)
	if v < floor {
		t.Fatalf("broker serves %s only up to v%d, the test needs v%d", kmsg.NameForKey(req.Key()), v, floor)
	}
	req.SetVersion(v)
}

// assertServing fails t unless the broker answers ApiVersions on a fresh connection.
func assertServing(t *testing.T, addr string) {
	t.Helper()
	w := dialWire(t, addr)
	resp := w.roundTrip(apiVersionsRequest(3)).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("broker answers ApiVersions with error %d and %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// recordBatch returns a valid uncompressed v2 record batch holding one record per
// key/value pair, at offsets 0.., with no producer ID.
func recordBatch(kvs ...[2]string) []byte {
	var recs []byte
	for i, kv := range kvs {
		var body []byte
		body = append(body, 0)                   // attributes
		body = kbin.AppendVarlong(body, 0)       // timestamp delta
		body = kbin.AppendVarint(body, int32(i)) // offset delta
		body = kbin.AppendVarintBytes(body, []byte(kv[0]))
		body = kbin.AppendVarintBytes(body, []byte(kv[1]))
		body = kbin.AppendVarint(body, 0) // headers
		recs = kbin.AppendVarint(recs, int32(len(body)))
		recs = append(recs, body...)
	}
	ts := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(kvs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(kvs)),
		Records:              recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12)) // length after the length field
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32c))
	return raw
}

// produceRaw sends one batch to topic/partition with acks=all and returns the partition's
// error code and base offset.
func produceRaw(t *testing.T, w *wireConn, vers map[int16]int16, topic string, partition int32, batch []byte) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	pinVersion(t, vers, req, 3, 12) // v3 brings record batch v2; v13 names topics by ID
	req.Acks = -1
	req.TimeoutMillis = int32(wireTimeout / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := w.roundTrip(req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Produce response to one partition has %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// latestOffset returns the high watermark ListOffsets reports for topic/partition.
func latestOffset(t *testing.T, w *wireConn, vers map[int16]int16, topic string, partition int32) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	pinVersion(t, vers, req, 1, 7)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = -1 // latest
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := w.roundTrip(req).(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("ListOffsets response to one partition has %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("ListOffsets %s/%d: %v", topic, partition, err)
	}
	return p.Offset
}

// fetchFromStart fetches topic/partition from offset 0 without waiting and returns the
// record bytes and the high watermark.
func fetchFromStart(t *testing.T, w *wireConn, vers map[int16]int16, topic string, partition int32) ([]byte, int64) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	pinVersion(t, vers, req, 4, 12) // v4 brings record batch v2; v13 names topics by ID
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = 0
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := w.roundTrip(req).(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Fetch response to one partition has %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("Fetch %s/%d: %v", topic, partition, err)
	}
	return p.RecordBatches, p.HighWatermark
}
