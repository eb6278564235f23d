// Package kproxy is a Kafka-aware TCP proxy for fault tests on loopback: it forwards frames
// between clients and one broker and can drop a response (closing the connection instead of
// delivering it), which is how a client comes to retry a request the broker already served.
package kproxy

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards Kafka connections from Addr to a target broker.
type Proxy struct {
	// Addr is the proxy's listening address.
	Addr   string
	target string
	ln     net.Listener
	// drop decides, for each response of API key with its 1-based count among responses of
	// that key, whether to drop it and close the connection.
	drop    func(apiKey int16, n int64) bool
	counts  sync.Map // int16 -> *atomic.Int64
	dropped atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

// Start listens on addr (host:port, port 0 allowed) and forwards to target. drop may be nil.
// The proxy is closed by t.Cleanup.
func Start(t testing.TB, addr, target string, drop func(apiKey int16, n int64) bool) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen for the proxy on %s: %v", addr, err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, drop: drop, conns: make(map[net.Conn]bool)}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Dropped returns how many responses were dropped.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// Close stops the proxy and its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client)
		p.track(server)
		keys := &keyQueue{}
		p.wg.Add(2)
		go p.requests(client, server, keys)
		go p.responses(server, client, keys)
	}
}

// keyQueue remembers the API key of each request in flight on one connection, in order.
type keyQueue struct {
	mu   sync.Mutex
	keys map[int32]int16
}

func (q *keyQueue) put(corr int32, key int16) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.keys == nil {
		q.keys = make(map[int32]int16)
	}
	q.keys[corr] = key
}

func (q *keyQueue) take(corr int32) (int16, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, ok := q.keys[corr]
	delete(q.keys, corr)
	return k, ok
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 200<<20 {
		return nil, errors.New("frame too large for the proxy")
	}
	buf := make([]byte, 4+n)
	copy(buf, size[:])
	_, err := io.ReadFull(r, buf[4:])
	return buf, err
}

func (p *Proxy) requests(client, server net.Conn, keys *keyQueue) {
	defer p.wg.Done()
	defer server.Close()
	for {
		f, err := readFrame(client)
		if err != nil {
			return
		}
		if len(f) >= 12 {
			keys.put(int32(binary.BigEndian.Uint32(f[8:12])), int16(binary.BigEndian.Uint16(f[4:6])))
		}
		if _, err := server.Write(f); err != nil {
			return
		}
	}
}

func (p *Proxy) responses(server, client net.Conn, keys *keyQueue) {
	defer p.wg.Done()
	defer client.Close()
	for {
		f, err := readFrame(server)
		if err != nil {
			return
		}
		if len(f) >= 8 && p.drop != nil {
			if key, ok := keys.take(int32(binary.BigEndian.Uint32(f[4:8]))); ok {
				v, _ := p.counts.LoadOrStore(key, new(atomic.Int64))
				if p.drop(key, v.(*atomic.Int64).Add(1)) {
					p.dropped.Add(1)
					server.Close()
					return
				}
			}
		}
		if _, err := client.Write(f); err != nil {
			return
		}
	}
}
