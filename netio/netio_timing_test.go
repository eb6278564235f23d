package netio

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
)

// benchSink keeps the compiler from discarding what the benchmarks read.
var benchSink int

func startBenchServer(b *testing.B, h Handler) *Server {
	b.Helper()
	cfg := testConfig()
	s := New(cfg, h, slog.New(slog.DiscardHandler))
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// BenchmarkRoundTripPipelined measures request/response throughput on one connection with
// up to 256 small requests in flight and an echo handler answering inside Serve.
func BenchmarkRoundTripPipelined(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			s := startBenchServer(b, HandlerFunc(func(r *Request) { r.Respond([][]byte{r.Frame}, nil) }))
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
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
		})
	}
}

// BenchmarkRoundTripSequential measures one request at a time: the latency of a round trip
// through the event loop, the dispatcher and back.
func BenchmarkRoundTripSequential(b *testing.B) {
	s := startBenchServer(b, HandlerFunc(func(r *Request) { r.Respond([][]byte{r.Frame}, nil) }))
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
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
