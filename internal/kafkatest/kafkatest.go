// Package kafkatest holds helpers for integration tests that drive a broker with franz-go:
// create a topic, produce and record acknowledgements in an ackcheck.Ledger, read every
// partition back, check that no value is stored twice, and read /metrics. Helpers that can
// fail take a testing.TB and fail the test themselves.
package kafkatest

import (
	"net"
	"testing"
	"time"
)

// FreeAddr returns a loopback address with a port that was free a moment ago, for a
// listener the test is about to start.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitFor polls cond every 20 ms until it holds, failing the test after timeout; what
// names the condition in the failure.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitUntil polls check every 20 ms until it returns nil, failing the test after timeout
// with what and the last error check returned, so the failure says what was still wrong.
func WaitUntil(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
