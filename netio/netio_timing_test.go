package netio

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/kafscale/kafscale/internal/testcerts"
)

// benchSink keeps the compiler from discarding what the benchmarks read.
var benchSink int

// benchTransports are the ways a client reaches a Server: gnet's plaintext listener, a
// further plaintext listener (streamconn.go) and a TLS one.
var benchTransports = []string{"gnet", "stream", "tls"}

// benchConn starts a server for h with every transport and dials the one named.
func benchConn(b *testing.B, transport string, h Handler) net.Conn {
	b.Helper()
	ca := testcerts.NewCA(b, "ca")
	cert := ca.Server(b, "broker")
	cfg := testConfig()
	cfg.Listeners = []Listener{
		{Name: "stream", Addr: "127.0.0.1:0"},
		{Name: "tls", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert.TLS}}},
	}
	s := New(cfg, h, slog.New(slog.DiscardHandler))
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	var conn net.Conn
	var err error
	switch transport {
	case "gnet":
		conn, err = net.Dial("tcp", s.Addr().String())
	case "stream":
		conn, err = net.Dial("tcp", s.ListenerAddr("stream").String())
	default:
		conn, err = tls.Dial("tcp", s.ListenerAddr("tls").String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// BenchmarkRoundTripPipelined measures request/response throughput on one connection with
// up to 256 small requests in flight and an echo handler answering inside Serve.
func BenchmarkRoundTripPipelined(b *testing.B) {
	for _, tr := range benchTransports {
		for _, size := range []int{64, 1024} {
			b.Run(tr+"/"+strconv.Itoa(size)+"B", func(b *testing.B) {
				benchPipelined(b, tr, size)
			})
		}
	}
}

func benchPipelined(b *testing.B, transport string, size int) {
	conn := benchConn(b, transport, HandlerFunc(func(r *Request) { r.Respond([][]byte{r.Frame}, nil) }))
	const depth, chunk = 256, 32
	req := frame(make([]byte, size))
	batch := make([]byte, 0, chunk*len(req))
	for range chunk {
		batch = append(batch, req...)
	}
	tokens := make(chan struct{}, depth)
	for range depth {
		tokens <- struct{}{}
	}
	b.SetBytes(int64(2 * len(req)))
	b.ReportAllocs()
	b.ResetTimer()

	writeErr := make(chan error, 1)
	go func() {
		for sent := 0; sent < b.N; {
			n := min(chunk, b.N-sent)
			for range n {
				<-tokens
			}
			if _, err := conn.Write(batch[:n*len(req)]); err != nil {
				writeErr <- err
				return
			}
			sent += n
		}
		writeErr <- nil
	}()
	rd := bufio.NewReaderSize(conn, 64<<10)
	var hdr [4]byte
	body := make([]byte, size)
	for range b.N {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(rd, body[:binary.BigEndian.Uint32(hdr[:])]); err != nil {
			b.Fatal(err)
		}
		benchSink += int(body[0])
		tokens <- struct{}{}
	}
	if err := <-writeErr; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundTripSequential measures one request at a time: the latency of a round trip
// through the event loop, the dispatcher and back.
func BenchmarkRoundTripSequential(b *testing.B) {
	for _, tr := range benchTransports {
		b.Run(tr, func(b *testing.B) { benchSequential(b, tr) })
	}
}

func benchSequential(b *testing.B, transport string) {
	conn := benchConn(b, transport, HandlerFunc(func(r *Request) { r.Respond([][]byte{r.Frame}, nil) }))
	req := frame(make([]byte, 64))
	resp := make([]byte, len(req))
	b.SetBytes(int64(2 * len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, resp); err != nil {
			b.Fatal(err)
		}
		benchSink += int(resp[0])
	}
}
