package testinfra

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// Etcd is a single-member etcd server process. Its methods are for the test goroutine.
type Etcd struct {
	// ClientURL is the client endpoint, http://127.0.0.1:<port>.
	ClientURL string
	// PeerURL is the peer endpoint, on another free loopback port.
	PeerURL string
	// DataDir holds the member's data; it survives Stop.
	DataDir string

	p *process
}

// StartEtcd starts an etcd server (the `etcd` binary that scripts/test-deps.sh builds) with
// its data in a new t.TempDir() on free loopback ports, and waits until /health says it is
// healthy. It is killed when the test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	path := binary(t, "etcd")
	e := &Etcd{
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		DataDir:   t.TempDir(),
	}
	args := []string{
		"--name", "testinfra",
		"--data-dir", e.DataDir,
		"--listen-client-urls", e.ClientURL,
		"--advertise-client-urls", e.ClientURL,
		"--listen-peer-urls", e.PeerURL,
		"--initial-advertise-peer-urls", e.PeerURL,
		"--initial-cluster", "testinfra=" + e.PeerURL,
		"--initial-cluster-state", "new",
		"--log-level", "warn",
		// Tests write little; keep the server small and quick to start.
		"--quota-backend-bytes", fmt.Sprint(256 << 20),
		"--auto-compaction-mode", "revision",
		"--auto-compaction-retention", "1000",
		"--snapshot-count", "10000",
	}
	// etcd reads ETCD_* variables as flags; the caller's must not leak in.
	e.p = newProcess(t, "etcd", path, args, environ("ETCD_"))
	e.p.cleanup()
	e.Start()
	return e
}

// Endpoints returns the client endpoints, for clientv3 or --etcd-endpoints.
func (e *Etcd) Endpoints() []string { return []string{e.ClientURL} }

// Start starts the server again on the same data and ports and waits until it is healthy.
func (e *Etcd) Start() {
	e.p.t.Helper()
	e.p.start()
	e.p.waitFor(30*time.Second, e.healthy)
}

// Stop stops the server with SIGTERM (SIGKILL after 10 s); its data stays for Start.
func (e *Etcd) Stop() { e.p.stop() }

// Kill stops the server with SIGKILL; its data stays for Start.
func (e *Etcd) Kill() { e.p.kill() }

// Running reports whether the server process is alive.
func (e *Etcd) Running() bool { return e.p.running() }

// Log returns up to n trailing bytes of the server's output.
func (e *Etcd) Log(n int) string { return e.p.log.Tail(n) }

// healthy asks /health, which answers true once the member has a leader and serves reads.
func (e *Etcd) healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ClientURL+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("cannot decode /health %q: %w", body, err)
	}
	if resp.StatusCode != http.StatusOK || h.Health != "true" {
		return fmt.Errorf("/health: %d %s", resp.StatusCode, body)
	}
	return nil
}
