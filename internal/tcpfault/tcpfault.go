// Package tcpfault is a protocol-blind TCP proxy for fault tests on loopback: tests put it
// between a client and a server (etcd, say) and make it lose the server's replies while
// still delivering the client's requests, so a request takes effect but its sender never
// learns it, or delay the replies. Mending a fault closes every connection, as a network
// that drops packets and then recovers leaves its streams (an HTTP/2 connection that lost
// bytes cannot go on), and the client reconnects.
package tcpfault

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections from Addr to a target.
type Proxy struct {
	// Addr is the proxy's listening address (host:port on loopback).
	Addr   string
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	dropReplies atomic.Bool  // server bytes are read and discarded
	cut         atomic.Bool  // bytes of both directions are read and discarded
	replyDelay  atomic.Int64 // nanoseconds each server chunk is held back
	dropped     atomic.Int64 // server bytes discarded

	mu    sync.Mutex // guards conns
	conns map[net.Conn]bool
}

// Start listens on a free loopback port and forwards to target. The proxy is closed by
// t.Cleanup.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen for the TCP proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: make(map[net.Conn]bool)}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// DropReplies makes the proxy deliver what clients send and discard what the server
// answers, on every connection, until Mend.
func (p *Proxy) DropReplies() { p.dropReplies.Store(true) }

// Cut makes the proxy discard the bytes of both directions, on every connection, until
// Mend: a network partition between the client and the server, whose connections stay
// open (nothing tells either side, as when packets are dropped).
func (p *Proxy) Cut() { p.cut.Store(true) }

// DelayReplies holds every chunk the server sends back for d before delivering it (0
// delivers at once). Order is kept.
func (p *Proxy) DelayReplies(d time.Duration) { p.replyDelay.Store(int64(d)) }

// Mend ends DropReplies and DelayReplies and closes every connection, so clients
// reconnect to a proxy that forwards faithfully.
func (p *Proxy) Mend() {
	p.dropReplies.Store(false)
	p.cut.Store(false)
	p.replyDelay.Store(0)
	p.closeConns()
}

// DroppedBytes returns how many reply bytes were discarded.
func (p *Proxy) DroppedBytes() int64 { return p.dropped.Load() }

// Close stops the proxy and its connections.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.closeConns()
	p.wg.Wait()
}

func (p *Proxy) closeConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		p.wg.Add(2)
		go func() {
			// Requests go through unless cut: the point of dropping replies is a request
			// that took effect unbeknown to its sender.
			defer p.wg.Done()
			p.requests(server, client)
			_ = server.Close()
			_ = client.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.replies(client, server)
			_ = server.Close()
			_ = client.Close()
			p.track(client, false)
			p.track(server, false)
		}()
	}
}

// requests copies client -> server, dropping what is sent while the proxy is cut.
func (p *Proxy) requests(server, client net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && !p.cut.Load() {
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// replies copies server -> client, dropping or delaying as set.
func (p *Proxy) replies(client, server net.Conn) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	out := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range out {
			if wait := time.Until(c.at); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := client.Write(c.data); err != nil {
				for range out { // drain so the reader never blocks
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if p.dropReplies.Load() || p.cut.Load() {
				p.dropped.Add(int64(n))
			} else {
				out <- chunk{at: time.Now().Add(time.Duration(p.replyDelay.Load())), data: append([]byte(nil), buf[:n]...)}
			}
		}
		if err != nil {
			close(out)
			<-done
			return
		}
	}
}
