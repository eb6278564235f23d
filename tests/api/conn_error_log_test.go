package api

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// rawRequest is a request frame with api key, version and correlation id 1, client id "t",
// and no body.
func rawRequest(key, version int16) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, 't')
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// TestConnectionErrorsAreLogged checks that a connection reset and connections closed for
// bad requests are logged one line each, at most 20 lines per 10 s (netio/connerr.go), the
// rest counted in kafscale_log_lines_suppressed_total{log="connection_errors"}.
func TestConnectionErrorsAreLogged(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	mark := logMark(b)

	// A client that resets its connection (SO_LINGER 0) after an answered ApiVersions.
	nc, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(rawRequest(18, 0)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatalf("no ApiVersions answer: %v", err)
	}
	_ = nc.(*net.TCPConn).SetLinger(0)
	_ = nc.Close()
	kafkatest.WaitUntil(t, 10*time.Second, "the reset logged", func() error {
		if !strings.Contains(b.LogTail(256 << 20)[mark:], `msg="connection error"`) {
			return fmt.Errorf("no line yet")
		}
		return nil
	})

	// 50 connections each sending an API key that does not exist: each is closed.
	const bad = 50
	for i := range bad {
		nc, err := net.Dial("tcp", b.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(rawRequest(999, 0)); err != nil {
			t.Fatal(err)
		}
		if n, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatalf("connection %d: a request with api key 999 got %d bytes of answer, want the connection closed", i, n)
		}
		_ = nc.Close()
	}
	var lines []string
	kafkatest.WaitUntil(t, 10*time.Second, "every connection error logged or counted", func() error {
		scrape, err := b.Metrics(ctx)
		if err != nil {
			return err
		}
		suppressed := kafkatest.MetricSample(scrape, `kafscale_log_lines_suppressed_total{log="connection_errors"}`)
		lines = lines[:0]
		for line := range strings.Lines(b.LogTail(256 << 20)[mark:]) {
			if strings.Contains(line, `msg="closing connection"`) || strings.Contains(line, `msg="connection error"`) {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		if got := len(lines) + int(suppressed); got < 1+bad {
			return fmt.Errorf("%d lines and %v suppressed, want %d in all", len(lines), suppressed, 1+bad)
		}
		return nil
	})
	if len(lines) > 20 {
		t.Errorf("%d connection error lines for %d errors in one window, want at most 20:\n%s", len(lines), 1+bad, strings.Join(lines, "\n"))
	}
	reset, closed := 0, 0
	for _, l := range lines {
		switch {
		case strings.Contains(l, `msg="connection error"`) && strings.Contains(l, "connection reset by peer") && strings.Contains(l, "remote=127.0.0.1:"):
			reset++
		case strings.Contains(l, `msg="closing connection"`) && strings.Contains(l, "request key 999") && strings.Contains(l, "remote=127.0.0.1:"):
			closed++
		}
	}
	if reset != 1 || closed == 0 || reset+closed != len(lines) {
		t.Errorf("want one reset line and the rest closes for api key 999, got %d and %d of:\n%s", reset, closed, strings.Join(lines, "\n"))
	}
}
