package limits

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// status reads VmRSS and VmHWM (the peak of VmRSS) of a process, in bytes.
func status(t testing.TB, pid int) (rss, hwm int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("cannot read the broker's status: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		for _, field := range []struct {
			name string
			dst  *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &hwm}} {
			rest, ok := strings.CutPrefix(line, field.name)
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) != 2 || f[1] != "kB" {
				t.Fatalf("cannot parse %q", line)
			}
			*field.dst = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		t.Fatalf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm
}

// resetPeak makes VmHWM start again from the current RSS (Linux: "5" to clear_refs), so
// the peak measured covers the attack only.
func resetPeak(t testing.TB, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the broker's VmHWM: %v", err)
	}
}

const mib = 1 << 20

// needOpenFiles fails the test unless this process may open n descriptors more (Go raises
// the soft limit to the hard one at start; the broker does the same itself).
func needOpenFiles(t testing.TB, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < uint64(n)+256 {
		t.Fatalf("the open-files limit is %d; this test needs %d: raise ulimit -Hn", lim.Cur, n+256)
	}
}

// attackerIP returns the loopback address attacker i connects from: attackers spread over
// 127.0.0.2-5, as a botnet would, while the honest client connects from 127.0.0.1.
func attackerIP(i, ips int) net.IP { return net.IPv4(127, 0, 0, byte(2+i%ips)) }

// dialFrom connects to addr from the local address ip.
func dialFrom(ip net.IP, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	return d.Dial("tcp", addr)
}

// stalledFrames opens n connections that each announce a frame of announced bytes and
// send sent bytes of it, then stall, as in issue 16 (100 MiB announced, 8 MiB sent). Each
// connection's writes get writeFor from its dial to go through: a broker that does not
// read a connection makes the write block, which is the point. It returns once every
// connection has written all or blocked, with the connections (closed when the test ends)
// and how many wrote all.
func stalledFrames(t testing.TB, addr string, n, ips, announced, sent int, writeFor time.Duration) (conns []net.Conn, whole int) {
	t.Helper()
	body := make([]byte, sent)
	conns = make([]net.Conn, n)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		wholeN int
	)
	// Dials at most 64 at a time: a burst of 1,000 overflows the listener's accept queue,
	// and Linux then drops handshakes for seconds of retransmissions.
	dials := make(chan struct{}, 64)
	for i := range n {
		wg.Go(func() {
			dials <- struct{}{}
			c, err := dialFrom(attackerIP(i, ips), addr)
			<-dials
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			conns[i] = c
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(announced))
			_ = c.SetWriteDeadline(time.Now().Add(writeFor))
			if _, err := c.Write(hdr[:]); err != nil {
				return
			}
			if _, err := c.Write(body); err == nil {
				mu.Lock()
				wholeN++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	if len(errs) > 0 {
		t.Fatalf("%d of %d attack connections failed to connect, first: %v", len(errs), n, errs[0])
	}
	return conns, wholeN
}

// produceAndFetch produces records records of size bytes to a new topic with a franz-go
// client and fetches them back, failing the test on any error or shortfall; it returns
// how long each took.
func produceAndFetch(t testing.TB, addr, topic string, records, size int) (produce, fetch time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	value := make([]byte, size)
	start := time.Now()
	results := make(chan error, records)
	for range records {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) { results <- err })
	}
	for range records {
		if err := <-results; err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	produce = time.Since(start)
	start = time.Now()
	got := 0
	for got < records {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("fetch from %s after %d of %d records: %v", topic, got, records, err)
		}
		got += fs.NumRecords()
	}
	return produce, time.Since(start)
}

// metric returns the value of the sample named (with its labels) in b's scrape.
func metric(t testing.TB, b *testbroker.Process, sample string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text, err := b.Metrics(ctx)
	if err != nil {
		t.Fatalf("cannot scrape the broker: %v", err)
	}
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("cannot parse %q", line)
			}
			return v
		}
	}
	t.Fatalf("no %s in the broker's scrape", sample)
	return 0
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
