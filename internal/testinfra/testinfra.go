// Package testinfra runs the real servers KafScale's integration tests need, an etcd server
// and a MinIO server, as processes on free loopback ports with their data in t.TempDir().
// Each can be stopped and started again on the same data and ports, to test what the broker
// does while one of them is away. The binaries come from scripts/test-deps.sh's cache
// (${XDG_CACHE_HOME:-$HOME/.cache}/kafscale/bin) or PATH; a missing one fails the test.
// It also runs an Apache Kafka node (StartKafka, from the jars in the same cache), the
// oracle for what Kafka answers (tests/oracle).
//
// testinfra imports no KafScale package but two helpers that import none (internal/logbuf,
// internal/jvm), so any package's tests may use it.
package testinfra

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/logbuf"
)

// installHint ends the message of a test that cannot find a server binary.
const installHint = "run scripts/test-deps.sh to install it"

// BinDir returns the directory scripts/test-deps.sh installs server binaries into.
func BinDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "kafscale", "bin")
}

// binary returns the path of a server binary: the test-deps cache first, then PATH.
func binary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(BinDir(), name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("testinfra: no %s binary in %s or on PATH; %s", name, BinDir(), installHint)
	return ""
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testinfra: cannot find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// environ returns this process's environment without the variables whose names start with
// drop (which the server would read as settings), plus extra.
func environ(drop string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if drop == "" || !strings.HasPrefix(kv, drop) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// process is one server process that can be stopped and started again with the same
// command line. Its methods are called from the test goroutine.
type process struct {
	t      testing.TB
	name   string
	path   string
	args   []string
	env    []string // the whole environment
	log    *logbuf.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
}

func newProcess(t testing.TB, name, path string, args, env []string) *process {
	return &process{t: t, name: name, path: path, args: args, env: env, log: &logbuf.Buffer{}}
}

// start launches the process; the caller waits for readiness.
func (p *process) start() {
	p.t.Helper()
	if p.running() {
		p.t.Fatalf("testinfra: %s started while it still runs", p.name)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.log, p.log
	// Its own process group, so a ^C of `go test` does not reach it before t.Cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(p.log, "--- testinfra: starting %s %v\n", p.name, p.args)
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("testinfra: cannot start %s: %v", p.name, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.exited) }()
}

func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to 10 s before SIGKILL.
func (p *process) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *process) kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// waitFor polls ready every 50 ms until it returns nil, failing the test after timeout or if
// the process exits.
func (p *process) waitFor(timeout time.Duration, ready func() error) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		select {
		case <-p.exited:
			p.t.Fatalf("testinfra: %s exited before it was ready:\n%s", p.name, p.log.Tail(8<<10))
		default:
		}
		if err = ready(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("testinfra: %s not ready after %s: %v\n%s", p.name, timeout, err, p.log.Tail(8<<10))
}

// cleanup kills the process at the end of the test and shows its log if the test failed.
func (p *process) cleanup() {
	p.t.Cleanup(func() {
		p.kill()
		if p.t.Failed() {
			p.t.Logf("%s log (last 4 KiB):\n%s", p.name, p.log.Tail(4<<10))
		}
	})
}
