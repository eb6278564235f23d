// Package shutdown tests that `kafscale dev` shuts down cleanly on SIGTERM whatever its
// clients are doing: requests with huge timeouts, clients that never read, half-sent
// frames, many connections (issue 19, finding 4). A clean shutdown flushes pending data,
// writes its checkpoints, revokes its lease and exits 0 within --shutdown-timeout.
package shutdown

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// shutdownTimeout is the broker's --shutdown-timeout in these tests: short, so that a
// shutdown that waits for a client's timeout instead of ending it shows at once.
const shutdownTimeout = 10 * time.Second

// conn is one raw Kafka connection; used by one goroutine.
type conn struct {
	t    *testing.T
	nc   net.Conn
	corr int32
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("cannot dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &conn{t: t, nc: nc}
}

// frame encodes req as a request frame with header v1 (v2 when flexible).
func frame(req kmsg.Request, corr int32) []byte {
	clientID := "kafscale-shutdown-test"
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

func (c *conn) send(req kmsg.Request) {
	c.t.Helper()
	c.corr++
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(frame(req, c.corr)); err != nil {
		c.t.Fatalf("cannot send %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
}

// do sends req and decodes its answer (header v0/v1 handled by kmsg's own reader).
func (c *conn) do(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	c.send(req)
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		c.t.Fatalf("cannot read %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		c.t.Fatalf("cannot read %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	body = body[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("cannot decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// waitFor polls cond every 20 ms until it holds, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createTopic(t *testing.T, c *conn, name string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("cannot create topic %s: error code %d", name, code)
	}
}

// topicExists asks Metadata v12 whether name exists (without creating it).
func topicExists(t *testing.T, c *conn, name string) bool {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &name
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.MetadataResponse)
	return len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0
}

// recordBatch is one valid uncompressed v2 batch of one record of size bytes.
func recordBatch(size int) []byte {
	var rec []byte
	rec = kbin.AppendInt8(rec, 0)    // attributes
	rec = kbin.AppendVarlong(rec, 0) // timestamp delta
	rec = kbin.AppendVarint(rec, 0)  // offset delta
	rec = kbin.AppendVarint(rec, -1) // key: null
	rec = kbin.AppendVarint(rec, int32(size))
	rec = append(rec, make([]byte, size)...)
	rec = kbin.AppendVarint(rec, 0) // headers
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: 0,
		FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1,
		Records: append(kbin.AppendVarint(nil, int32(len(rec))), rec...),
	}
	raw := b.AppendTo(nil)
	// Length counts from the partition leader epoch; the CRC covers attributes onwards.
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32c(raw[21:]))
	return raw
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// TestShutdownWithHostileClients sends, on one broker, every kind of request and client
// behaviour that could keep a handler (netio's Serve) or the shutdown from returning, then
// sends SIGTERM: the broker must exit 0 within --shutdown-timeout with a clean log.
//
// It guards against issue 19's finding 4: a CreateTopics of many topics with a timeout of
// 2^31-1 ms ran on in its Serve call through the shutdown (its context ended only when the
// broker closed, after the listener stopped), so stopping the listener timed out after
// 30 s ("cannot stop netio dispatchers"), and the final flush, checkpoints and lease
// revoke found their deadline gone: exit status 1.
func TestShutdownWithHostileClients(t *testing.T) {
	b := testbroker.Start(t, "--shutdown-timeout", shutdownTimeout.String(),
		"--buffer-bytes", "1048576", "--flush-bytes", "524288", "--group-initial-rebalance-delay", "0s")
	admin := dial(t, b.Addr)
	const topic = "shutdown-hostile"
	createTopic(t, admin, topic)

	// A CreateTopics of many topics with the largest timeout: it runs for minutes.
	ct := dial(t, b.Addr)
	{
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = 7
		req.TimeoutMillis = math.MaxInt32
		for i := range 3000 {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("shutdown-many-%04d", i), 50, 1
			req.Topics = append(req.Topics, rt)
		}
		ct.send(req)
	}
	// CreatePartitions growing a topic a lot, same timeout; half of --max-partitions (10,000),
	// so that whichever of it and the CreateTopics reserves first, the other can create too.
	cp := dial(t, b.Addr)
	{
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version = 3
		req.TimeoutMillis = math.MaxInt32
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, 5000
		req.Topics = append(req.Topics, rt)
		cp.send(req)
	}
	// Produce acks=all with the largest timeout, more than --buffer-bytes at once, from
	// several connections pipelining: some wait in the buffer reservation.
	for range 4 {
		pc := dial(t, b.Addr)
		for range 8 {
			req := kmsg.NewPtrProduceRequest()
			req.Version = 9
			req.Acks = -1
			req.TimeoutMillis = math.MaxInt32
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = recordBatch(900 << 10)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			pc.send(req)
		}
	}
	// A Fetch parked with the largest MaxWait and MinBytes.
	fc := dial(t, b.Addr)
	{
		req := kmsg.NewPtrFetchRequest()
		req.Version = 11
		req.ReplicaID = -1
		req.MaxWaitMillis = math.MaxInt32
		req.MinBytes = math.MaxInt32
		req.MaxBytes = math.MaxInt32
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset = math.MaxInt64 / 2
		rp.PartitionMaxBytes = math.MaxInt32
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		fc.send(req)
	}
	// A JoinGroup parked on a rebalance with the largest timeout, and a second member whose
	// join starts a rebalance the first never answers.
	for i := range 2 {
		jc := dial(t, b.Addr)
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 5
		req.Group = "shutdown-group"
		req.MemberID = fmt.Sprintf("member-%d", i)
		req.SessionTimeoutMillis = 45000
		req.RebalanceTimeoutMillis = math.MaxInt32
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = "range"
		req.Protocols = append(req.Protocols, p)
		jc.send(req)
	}
	// InitProducerId, with the largest transaction timeout, pipelined many times.
	ic := dial(t, b.Addr)
	for range 50 {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionTimeoutMillis = math.MaxInt32
		req.ProducerID, req.ProducerEpoch = -1, -1
		ic.send(req)
	}
	// A client that never reads: pipelined Metadata requests until its socket is full.
	nr := dial(t, b.Addr)
	for range 256 {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		nr.send(req)
	}
	// Half-sent frames: the size says 1 MiB, a few bytes follow; many connections.
	for range 100 {
		hc := dial(t, b.Addr)
		_, _ = hc.nc.Write([]byte{0, 0x10, 0, 0, 0, 3, 0, 9})
	}
	for range 100 {
		hc := dial(t, b.Addr)
		_, _ = hc.nc.Write(binary.BigEndian.AppendUint32(nil, 300<<10)) // over directReadMin
		_, _ = hc.nc.Write(make([]byte, 100<<10))
	}

	// The CreateTopics is under way once its first topics exist.
	waitFor(t, 30*time.Second, "the first topics of the big CreateTopics", func() bool {
		return topicExists(t, admin, "shutdown-many-0001")
	})

	start := time.Now()
	b.Term(shutdownTimeout + 5*time.Second)
	t.Logf("broker exited 0 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	log := b.LogTail(64 << 20)
	_, shutdownLog, _ := strings.Cut(log, "shutting down")
	for line := range strings.Lines(shutdownLog) {
		if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && !etcdSlowness(line) {
			t.Errorf("shutdown logged a problem: %s", strings.TrimSpace(line))
		}
	}
	for line := range strings.Lines(log) {
		if strings.Contains(line, "BUG:") || strings.Contains(line, "panic") {
			t.Errorf("broker logged an internal error: %s", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(log, "shut down cleanly") {
		t.Errorf("broker log has no \"shut down cleanly\"")
	}
}

// etcdSlowness reports whether line is the embedded etcd's warning that a request or a
// disk write took longer than it expects (its 100 ms), which a loaded machine causes while
// the broker shuts down cleanly: not a shutdown problem.
func etcdSlowness(line string) bool {
	if !strings.Contains(line, "component=etcd") {
		return false
	}
	for _, msg := range []string{`msg="apply request took too long"`, `msg="request stats"`, `msg="slow fdatasync"`,
		`msg="leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk"`} {
		if strings.Contains(line, msg) {
			return true
		}
	}
	return false
}
