// Package limits attacks a real `kafscale dev` the way hostile or broken clients would
// (issue 16, acceptance 1) and checks that its memory stays within the bound
// docs/operations.md ("Limits") promises while an honest franz-go client still produces
// and fetches.
package limits

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// rssBound is the bound docs/operations.md ("Limits") documents for a broker's RSS under
// hostile clients. What clients can make it hold is --queued-max-request-bytes (256 MiB
// by default), plus up to 64 KiB per connection that netio stopped reading (what gnet read
// of it first), plus up to 512 KiB per connection that does not read its responses (one
// write handed to gnet); the garbage collector may let as much again accumulate before it
// collects. So RSS stays within its value before the clients plus twice that.
func rssBound(before int64, pausedConns, unreadConns int) int64 {
	return before + 2*(256*mib+int64(pausedConns)*64<<10+int64(unreadConns)*512<<10)
}

// TestStalledLargeFramesAttack is issue 16's attack with 1,000 connections: each announces
// a 100 MiB request and sends 8 MiB of it, then stalls. Before the limits, 200 such
// connections raised a broker's RSS from 40 MiB to 1.8 GiB. Now the announced sizes are
// reserved before any body is read: two requests fit in --queued-max-request-bytes (256
// MiB), the other connections are not read at all, and the broker's peak RSS stays within
// its idle RSS plus that budget, while an honest client's requests, which fit beside, are
// served.
func TestStalledLargeFramesAttack(t *testing.T) {
	const conns = 1000
	needOpenFiles(t, conns)
	// A read timeout longer than the test, so that the two requests let in stay the same
	// (TestRequestReadTimeoutClosesStalledFrame in netio covers the timeout).
	b := testbroker.StartPlain(t, "--request-read-timeout", "10m")
	produceAndFetch(t, b.Addr, "warmup", 1000, 1024)
	idle, _ := status(t, b.PID())
	resetPeak(t, b.PID())

	start := time.Now()
	_, whole := stalledFrames(t, b.Addr, conns, 4, 100*mib, 8*mib, 2*time.Second)
	t.Logf("%d attack connections open in %s; %d sent all 8 MiB", conns, time.Since(start).Round(time.Millisecond), whole)
	waitFor(t, "the attack connections to wait for memory", 60*time.Second, func() bool {
		return metric(t, b, "kafscale_netio_connections_waiting_for_memory") == conns-2
	})
	if held := metric(t, b, "kafscale_netio_request_bytes_held"); held != 200*mib {
		t.Fatalf("request bytes held %v, want the two 100 MiB requests that fit", held)
	}

	produce, fetch := produceAndFetch(t, b.Addr, "honest", 1000, 1024)
	rss, hwm := status(t, b.PID())
	t.Logf("RSS idle %d MiB; during the attack %d MiB, peak %d MiB; honest client: 1000 records produced in %s, fetched in %s",
		idle/mib, rss/mib, hwm/mib, produce.Round(time.Millisecond), fetch.Round(time.Millisecond))
	if bound := rssBound(idle, conns, 0); hwm > bound {
		t.Fatalf("peak RSS %d MiB over the documented bound %d MiB (idle %d MiB)", hwm/mib, bound/mib, idle/mib)
	}
}

// TestConnectionFlood: 2,000 connections from one address, the default
// --max-connections-per-ip (1,000) refuses the second half at accept, counted; an honest
// client from another address is served meanwhile; when the flood ends its connections
// are all gone, so the address may connect again.
func TestConnectionFlood(t *testing.T) {
	const flood, perIP = 2000, 1000
	needOpenFiles(t, flood)
	b := testbroker.StartPlain(t)
	produceAndFetch(t, b.Addr, "warmup", 1000, 1024)
	idle, _ := status(t, b.PID())
	resetPeak(t, b.PID())

	conns := make([]net.Conn, 0, flood)
	for range flood {
		c, err := dialFrom(net.IPv4(127, 0, 0, 2), b.Addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	t.Cleanup(closeAll)
	waitFor(t, "the connections over the per-address limit to be refused", 30*time.Second, func() bool {
		return metric(t, b, `kafscale_netio_refused_connections_total{reason="max_connections_per_ip"}`) == flood-perIP
	})
	if open := metric(t, b, "kafscale_netio_connections"); open != perIP {
		t.Fatalf("%v connections open, want %d", open, perIP)
	}
	// The refused connections read EOF; the others wait for a response to nothing.
	var refused atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(make([]byte, 1)); err == io.EOF {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if refused := refused.Load(); refused != flood-perIP {
		t.Fatalf("%d flood connections closed by the broker, want %d", refused, flood-perIP)
	}
	if !strings.Contains(b.LogTail(1<<20), "refusing connections over the connection limits") {
		t.Fatal("the refusals were not logged")
	}

	produceAndFetch(t, b.Addr, "honest", 1000, 1024)
	rss, hwm := status(t, b.PID())
	t.Logf("RSS idle %d MiB; with %d connections open %d MiB, peak %d MiB", idle/mib, perIP, rss/mib, hwm/mib)
	if bound := rssBound(idle, perIP, 0); hwm > bound {
		t.Fatalf("peak RSS %d MiB over the documented bound %d MiB (idle %d MiB)", hwm/mib, bound/mib, idle/mib)
	}

	closeAll()
	waitFor(t, "the flood's connections to be gone", 30*time.Second, func() bool {
		return metric(t, b, "kafscale_netio_connections") == 0
	})
	c, err := dialFrom(net.IPv4(127, 0, 0, 2), b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	produceAndFetch(t, b.Addr, "after", 10, 1024)
	if got := metric(t, b, `kafscale_netio_refused_connections_total{reason="max_connections_per_ip"}`); got != flood-perIP {
		t.Fatalf("refused %v connections after the flood ended, want still %d", got, flood-perIP)
	}
}

// TestMaxConnectionsRefusesEveryAddress: past --max-connections, a connection from any
// address is refused at accept; when connections close there is room again.
func TestMaxConnectionsRefusesEveryAddress(t *testing.T) {
	const max = 300
	b := testbroker.StartPlain(t, "--max-connections", "300")
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for i := range max + 50 {
		c, err := dialFrom(attackerIP(i, 4), b.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "the connections over --max-connections to be refused", 30*time.Second, func() bool {
		return metric(t, b, `kafscale_netio_refused_connections_total{reason="max_connections"}`) == 50
	})
	// An honest client is refused too while the broker is full (as in Kafka).
	nc, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a connection past --max-connections read %v, want EOF", err)
	}
	_ = nc.Close()
	for _, c := range conns[:10] {
		_ = c.Close()
	}
	waitFor(t, "room for new connections", 30*time.Second, func() bool {
		return metric(t, b, "kafscale_netio_connections") <= max-10
	})
	produceAndFetch(t, b.Addr, "honest", 10, 1024)
}

// TestLimitsTheOpenFilesLimitCannotHoldAreRefused: a --max-connections the open-files
// limit cannot hold is refused at start, naming the flag, rather than left to gnet, which
// stops accepting connections for good when accept fails with EMFILE.
func TestLimitsTheOpenFilesLimitCannotHoldAreRefused(t *testing.T) {
	p := testbroker.Launch(t, "--max-connections", "100000000")
	code, out := p.WaitRefused(30 * time.Second)
	if code == 0 || !strings.Contains(out, "--max-connections 100000000 needs an open-files limit") {
		t.Fatalf("exit code %d, output:\n%s", code, out)
	}
}
