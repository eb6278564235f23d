// Package groups tests consumer groups end to end: a real `kafscale dev` process driven by
// the group consumers of franz-go, kafka-go, sarama and librdkafka (kcat), and by raw
// requests at every version of every group API.
package groups

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// sessionTimeout is the session timeout every group member in these tests uses: Kafka's
// smallest allowed (group.min.session.timeout.ms), so dead members are noticed fast.
const sessionTimeout = 6 * time.Second

// adminTimeout bounds every administrative round trip.
const adminTimeout = 30 * time.Second

var (
	fastFlagsOnce sync.Once
	fastFlags     []string
)

// startBroker starts a fresh `kafscale dev` for one test. When the binary has the flags,
// the group timings that only slow tests down are cut: the initial rebalance delay (Kafka's
// 3 s) to 100 ms and the KIP-848 heartbeat interval (Kafka's 5 s) to 500 ms.
func startBroker(t *testing.T, args ...string) *testbroker.Process {
	t.Helper()
	fastFlagsOnce.Do(func() {
		out, _ := exec.Command(testbroker.Binary(t), "dev", "-h").CombinedOutput()
		for flag, value := range map[string]string{
			"group-initial-rebalance-delay":     "100ms",
			"group-consumer-heartbeat-interval": "500ms",
		} {
			if strings.Contains(string(out), "-"+flag+" ") {
				fastFlags = append(fastFlags, "--"+flag, value)
			}
		}
	})
	p := testbroker.Start(t, append(append([]string(nil), fastFlags...), args...)...)
	// The broker is built with the race detector when the tests are: a race it reports
	// fails the test that provoked it.
	t.Cleanup(func() {
		if log := p.LogTail(64 << 20); strings.Contains(log, "WARNING: DATA RACE") {
			i := strings.Index(log, "WARNING: DATA RACE")
			t.Errorf("the broker reported a data race:\n%s", log[i:min(len(log), i+6000)])
		}
	})
	return p
}

var nameSeq atomic.Int64

// uniqueName returns a topic or group name unique in this test binary.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameSeq.Add(1))
}

// newClient returns a franz-go client of addr, closed by t.Cleanup. Producers never use
// idempotence (a later issue).
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("kafscale-groups"), kgo.DisableIdempotentWrite()}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("cannot create franz-go client for %s: %v", addr, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic and waits until every partition has a leader.
func createTopic(t *testing.T, addr, name string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cl := newClient(t, addr)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(adminTimeout / time.Millisecond)
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("cannot create topic %s: %v", name, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("cannot create topic %s: %v", name, err)
	}
	for {
		mreq := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		mreq.Topics = append(mreq.Topics, mt)
		mresp, err := mreq.RequestWith(ctx, cl)
		if err == nil && len(mresp.Topics) == 1 && mresp.Topics[0].ErrorCode == 0 && int32(len(mresp.Topics[0].Partitions)) == partitions {
			ok := true
			for _, p := range mresp.Topics[0].Partitions {
				ok = ok && p.ErrorCode == 0 && p.Leader >= 0
			}
			if ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leader for every partition after %s (last error %v)", name, adminTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// produce writes n records to topic, round robin over partitions, keyed "k<i>", and
// returns how many went to each partition.
func produce(t *testing.T, cl *kgo.Client, topic string, partitions int32, from, n int) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	counts := make(map[int32]int64)
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		p := int32(i) % partitions
		counts[p]++
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("cannot produce %d records to %s: %v", n, topic, err)
	}
	return counts
}

// producer returns a client that writes to explicit partitions.
func producer(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	return newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

// committed returns the group's committed offset of every partition of topic (-1 if none).
func committed(t *testing.T, cl *kgo.Client, group, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("cannot fetch offsets of group %s: %v", group, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("cannot fetch offsets of group %s: %v", group, err)
	}
	out := make(map[int32]int64)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("cannot fetch offset of group %s partition %d: %v", group, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	return out
}

// waitFor polls cond every 50 ms until it holds, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seen records which offsets of each partition were consumed, and how often.
type seen struct {
	mu sync.Mutex
	m  map[int32]map[int64]int
}

func newSeen() *seen { return &seen{m: make(map[int32]map[int64]int)} }

func (s *seen) add(p int32, off int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[p] == nil {
		s.m[p] = make(map[int64]int)
	}
	s.m[p][off]++
}

// missing returns the offsets below want[p] never consumed, per partition (at most a few).
func (s *seen) missing(want map[int32]int64) map[int32][]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int32][]int64)
	for p, n := range want {
		for o := int64(0); o < n; o++ {
			if s.m[p][o] == 0 && len(out[p]) < 5 {
				out[p] = append(out[p], o)
			}
		}
	}
	return out
}

// total returns how many distinct records were consumed.
func (s *seen) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.m {
		n += len(m)
	}
	return n
}

// wire is one raw connection for requests at exact versions. Used by one goroutine.
type wire struct {
	t        *testing.T
	conn     net.Conn
	corr     int32
	clientID string // the request header's client id
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("cannot dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &wire{t: t, conn: c, clientID: "kafscale-groups"}
}

// do sends req at its version and decodes the answer; it waits up to timeout (group
// requests may wait for a rebalance).
func (w *wire) do(req kmsg.Request, timeout time.Duration) kmsg.Response {
	w.t.Helper()
	resp, err := w.try(req, timeout)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp
}

func (w *wire) try(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	w.corr++
	clientID := w.clientID
	b := make([]byte, 4, 128)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, w.corr)
	b = kbin.AppendNullableString(b, &clientID)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	resp := req.ResponseKind()
	return resp, w.roundTrip(b, w.corr, resp, timeout)
}

// roundTrip sends one request frame (size included) whose correlation id is corr and
// decodes its answer into resp, whose version says how.
func (w *wire) roundTrip(frame []byte, corr int32, resp kmsg.Response, timeout time.Duration) error {
	name := fmt.Sprintf("%s v%d", kmsg.NameForKey(resp.Key()), resp.GetVersion())
	_ = w.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := w.conn.Write(frame); err != nil {
		return fmt.Errorf("cannot send %s: %w", name, err)
	}
	var size [4]byte
	if _, err := io.ReadFull(w.conn, size[:]); err != nil {
		return fmt.Errorf("cannot read the answer to %s: %w", name, err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(w.conn, body); err != nil {
		return fmt.Errorf("cannot read the answer to %s: %w", name, err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return fmt.Errorf("answer to %s has correlation id %d, want %d", name, got, corr)
	}
	body = body[4:]
	if resp.IsFlexible() {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		if err := r.Complete(); err != nil {
			return fmt.Errorf("cannot read the header tags of the answer to %s: %w", name, err)
		}
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("cannot decode the answer to %s: %w", name, err)
	}
	return nil
}

// wantErr fails t unless code is want (nil: no error).
func wantErr(t *testing.T, what string, code int16, want *kerr.Error) {
	t.Helper()
	got := kerr.ErrorForCode(code)
	if want == nil && got != nil || want != nil && got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}
