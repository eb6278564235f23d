package limits

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// fetchFrame is a Fetch v11 request frame for partition 0 of topic from offset 0, asking
// for up to maxBytes.
func fetchFrame(topic string, corr int32, maxBytes int32) []byte {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MaxBytes = maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = maxBytes
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	clientID := "slow-reader"
	b := make([]byte, 4, 256)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &clientID)
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// slowReaders opens n connections from 127.0.0.2-5 that each send fetches Fetch requests
// for topic in one go and never read a byte of the responses.
func slowReaders(t testing.TB, b *testbroker.Process, topic string, n, fetches int, maxBytes int32) {
	t.Helper()
	var wire []byte
	for i := range fetches {
		wire = append(wire, fetchFrame(topic, int32(i), maxBytes)...)
	}
	conns := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	dials := make(chan struct{}, 64) // as in stalledFrames
	for i := range n {
		wg.Go(func() {
			dials <- struct{}{}
			c, err := dialFrom(attackerIP(i, 4), b.Addr)
			<-dials
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(wire); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("slow reader: %v", err)
	}
}

// TestSlowReaders: 200 clients that each send 16 fetches of up to 50 MiB at once and never
// read their socket. gnet copies the response bytes a socket does not take into a buffer
// of its own: before netio handed it responses in 512 KiB writes, the broker's RSS grew
// from 49 MiB to 10.5 GiB here and an honest client's produce took a minute. Now each
// slow reader costs at most one write, its unread fetches wait unserved, and the broker
// stays within the documented bound.
func TestSlowReaders(t *testing.T) {
	const readers = 200
	needOpenFiles(t, readers)
	b := testbroker.StartPlain(t)
	produceAndFetch(t, b.Addr, "data", 128, 512<<10) // 64 MiB
	idle, _ := status(t, b.PID())
	resetPeak(t, b.PID())
	slowReaders(t, b, "data", readers, 16, 50*mib)
	waitFor(t, "the slow readers' fetches to be answered", 60*time.Second, func() bool {
		return metric(t, b, `kafscale_requests_total{api="Fetch"}`) >= readers
	})
	produce, fetch := produceAndFetch(t, b.Addr, "honest", 1000, 1024)
	rss, hwm := status(t, b.PID())
	t.Logf("RSS idle %d MiB; with %d slow readers %d MiB, peak %d MiB; honest client: 1000 records produced in %s, fetched in %s",
		idle/mib, readers, rss/mib, hwm/mib, produce.Round(time.Millisecond), fetch.Round(time.Millisecond))
	if bound := rssBound(idle, readers, readers); hwm > bound {
		t.Fatalf("peak RSS %d MiB over the documented bound %d MiB (idle %d MiB)", hwm/mib, bound/mib, idle/mib)
	}
}
