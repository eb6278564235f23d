package testbroker

import (
	"context"
	"testing"
	"time"
)

// Launch runs `kafscale dev` with a fresh data directory and extra flags on free loopback
// ports without waiting for readiness, for starts that must fail (see WaitRefused). It is
// stopped (SIGKILL) when the test ends.
func Launch(t testing.TB, args ...string) *Process {
	t.Helper()
	p := newProcess(t, false, args)
	p.launch()
	return p
}

// LaunchBroker runs `kafscale broker` like StartBroker without waiting for readiness.
func LaunchBroker(t testing.TB, etcdEndpoints []string, s3 S3, args ...string) *Broker {
	t.Helper()
	b := newBroker(t, etcdEndpoints, s3, false, args)
	b.Launch()
	return b
}

// WaitRefused waits up to timeout for a process expected to refuse its settings to exit,
// and returns its exit code and output. It fails the test if the process becomes ready
// (it accepted the settings) or still runs after timeout.
func (p *Process) WaitRefused(timeout time.Duration) (code int, output string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if code, ok := p.WaitExit(50 * time.Millisecond); ok {
			return code, p.LogTail(1 << 20)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		status, _, err := p.Readyz(ctx)
		cancel()
		if err == nil && status == 200 {
			p.t.Fatalf("kafscale %v started and is ready; it must refuse these settings", p.Args)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("kafscale %v still runs %s after its start; it must refuse these settings:\n%s", p.Args, timeout, p.LogTail(8<<10))
		}
	}
}
