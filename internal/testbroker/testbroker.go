// Package testbroker runs `kafscale dev` as a real process for integration tests: it builds
// the binary once per test binary (with the race detector when the tests have it), starts it
// on free loopback ports with its data in a test directory, waits for /readyz, and can stop
// it with SIGTERM or kill -9 and start it again on the same data.
package testbroker

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/logbuf"
)

// build is one kafscale binary built for this test binary.
type build struct {
	once sync.Once
	path string
	err  error
}

// builds holds the binary built like the tests (with -race when they are) and the one
// built without the race detector.
var builds struct{ race, plain build }

// Binary returns the path of a kafscale binary built from this module, with the race
// detector when the tests have it, so that a race in the broker fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	if raceEnabled {
		return builds.race.get(t, true)
	}
	return builds.plain.get(t, false)
}

// PlainBinary returns the path of a kafscale binary built without the race detector, for
// tests that measure the broker's memory: the detector's shadow memory multiplies RSS by
// a factor that depends on the machine's load, which no bound survives.
func PlainBinary(t testing.TB) string {
	t.Helper()
	return builds.plain.get(t, false)
}

// Prebuilt binaries: scripts/test.sh builds the race and the plain binary once for all
// test packages and names them in these variables, since every package that starts a
// broker would otherwise link its own copy (several seconds each, with -race). A variable
// that names a missing file fails the test rather than building something else.
const (
	raceBinaryEnv  = "TESTBROKER_RACE_BINARY"
	plainBinaryEnv = "TESTBROKER_PLAIN_BINARY"
)

func (b *build) get(t testing.TB, race bool) string {
	t.Helper()
	env := plainBinaryEnv
	if race {
		env = raceBinaryEnv
	}
	b.once.Do(func() {
		if path := os.Getenv(env); path != "" {
			if _, err := os.Stat(path); err != nil {
				b.err = fmt.Errorf("%s names a kafscale binary that cannot be used: %w", env, err)
			}
			b.path = path
			return
		}
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			b.err = fmt.Errorf("cannot find the module root: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "kafscale-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "kafscale")
		args := []string{"build", "-o", b.path}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/kafscale")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("cannot build kafscale: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Process is one running (or stopped) `kafscale dev`.
type Process struct {
	t           testing.TB
	Addr        string // Kafka listener host:port
	MetricsAddr string // /metrics, /readyz host:port
	DataDir     string
	Args        []string // extra flags
	plain       bool     // run PlainBinary even in a -race test
	cmd         *exec.Cmd
	log         *logbuf.Buffer
	exited      chan struct{}
}

// Start runs `kafscale dev` with a fresh data directory and extra flags, and waits until it
// is ready. It is stopped (SIGKILL) when the test ends.
func Start(t testing.TB, args ...string) *Process {
	t.Helper()
	return start(t, false, args)
}

// StartPlain is Start with a broker built without the race detector, for tests that bound
// its memory (see PlainBinary).
func StartPlain(t testing.TB, args ...string) *Process {
	t.Helper()
	return start(t, true, args)
}

func start(t testing.TB, plain bool, args []string) *Process {
	t.Helper()
	p := newProcess(t, plain, args)
	startFresh(t, p, p.launch, func() {
		p.DataDir = t.TempDir()
		p.choosePorts()
	})
	return p
}

// startRetries bounds the starts of a new process whose port another process took between
// the test choosing it and the broker binding it.
const startRetries = 3

// startFresh launches a new process and waits until it is ready; when it exits because a
// port it was given is in use meanwhile (a free port is only free a moment; a busy CI
// machine's outgoing connections take them too), reset gives it new ports and it starts
// again, up to startRetries times. Only a first start does this: a restart keeps its
// ports, which the test knows.
func startFresh(t testing.TB, p *Process, launch, reset func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		launch()
		err := p.waitReady(60 * time.Second)
		if err == nil {
			return
		}
		if attempt < startRetries && !p.Running() && strings.Contains(p.LogTail(4<<10), "address already in use") {
			t.Logf("testbroker: a port was taken before the broker bound it (%s, %s); starting on new ports", p.Addr, p.MetricsAddr)
			reset()
			continue
		}
		t.Fatalf("%v", err)
	}
}

// newProcess prepares a `kafscale dev` on free ports with a fresh data directory, stopped
// (SIGKILL) when the test ends.
func newProcess(t testing.TB, plain bool, args []string) *Process {
	t.Helper()
	p := &Process{t: t, DataDir: t.TempDir(), Args: args, plain: plain}
	p.choosePorts()
	t.Cleanup(func() {
		if p.Running() {
			p.Kill()
		}
		if t.Failed() {
			t.Logf("kafscale log (last 8 KiB):\n%s", p.LogTail(8<<10))
		}
	})
	return p
}

// Restart starts the process again on the same data directory and ports.
func (p *Process) Restart() {
	p.t.Helper()
	p.launch()
	p.WaitReady(60 * time.Second)
}

// Relaunch starts the process again on the same data directory and ports without waiting
// for readiness (a benchmark timing a restart that may take longer than Restart's minute).
func (p *Process) Relaunch() {
	p.t.Helper()
	p.launch()
}

// launch starts `kafscale dev` on the process's data directory and ports without waiting.
func (p *Process) launch() {
	p.t.Helper()
	if p.Running() {
		p.t.Fatal("testbroker: Restart while the broker still runs")
	}
	args := []string{"dev", "--data-dir", p.DataDir, "--metrics-listen", p.MetricsAddr, "--log-format", "text"}
	if !slices.Contains(p.Args, "--listeners") {
		// --listeners replaces --listen: the test chose its listeners' ports itself.
		args = append(args, "--listen", p.Addr)
	}
	args = append(args, p.Args...)
	bin := Binary(p.t)
	if p.plain {
		bin = PlainBinary(p.t)
	}
	cmd := exec.Command(bin, args...)
	if p.log == nil {
		p.log = &logbuf.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("cannot start kafscale: %v", err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.exited) }()
}

// choosePorts picks the process's Kafka and metrics addresses.
func (p *Process) choosePorts() {
	p.t.Helper()
	if n := brokersFlag(p.Args); n > 1 {
		// `dev --brokers n` puts broker i on the Kafka and metrics ports of broker 0 plus i.
		base := freeRange(p.t, 2*n)
		p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(base))
		p.MetricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(base+n))
	} else {
		p.Addr = freeAddr(p.t)
		p.MetricsAddr = freeAddr(p.t)
	}
}

// WaitReady polls /readyz until it answers 200, failing the test after timeout.
func (p *Process) WaitReady(timeout time.Duration) {
	p.t.Helper()
	if err := p.waitReady(timeout); err != nil {
		p.t.Fatalf("%v", err)
	}
}

// waitReady polls /readyz until it answers 200, or the process exits, or timeout passes.
func (p *Process) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("kafscale exited before it was ready:\n%s", p.LogTail(8<<10))
		default:
		}
		resp, err := client.Get("http://" + p.MetricsAddr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("kafscale not ready after %s:\n%s", timeout, p.LogTail(8<<10))
}

// Running reports whether the process is alive.
func (p *Process) Running() bool {
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

// WaitExit waits up to timeout for the process to exit by itself and returns its exit
// code; ok is false if it still runs.
func (p *Process) WaitExit(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// Kill stops the process with SIGKILL (kill -9) and waits for it to exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Term stops the process with SIGTERM and waits up to timeout for a clean exit, failing
// the test if it does not exit or exits non-zero.
func (p *Process) Term(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.Kill()
		p.t.Fatalf("kafscale did not exit within %s of SIGTERM:\n%s", timeout, p.LogTail(8<<10))
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("kafscale exited with %d after SIGTERM:\n%s", code, p.LogTail(8<<10))
	}
}

// Metrics returns the Prometheus text of /metrics.
func (p *Process) Metrics(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.MetricsAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// LogTail returns up to n trailing bytes of the process's combined output.
func (p *Process) LogTail(n int) string {
	if p.log == nil {
		return ""
	}
	return p.log.Tail(n)
}

// brokersFlag returns the value of --brokers in args, or 1.
func brokersFlag(args []string) int {
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--brokers=")
		if !ok && a == "--brokers" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			n, err := strconv.Atoi(v)
			if err == nil {
				return n
			}
		}
	}
	return 1
}

// freeRange returns a loopback port such that it and the n-1 ports after it were free a
// moment ago. The ports are taken below the kernel's ephemeral range (32768 and up by
// default), where no outgoing connection of another test can take one of them between
// now and the broker's listen: with ports from :0, the port after a free one was often an
// ephemeral port in use (CI failed once on exactly that).
func freeRange(t testing.TB, n int) int {
	t.Helper()
	for range 200 {
		base := 20000 + rand.IntN(12000-n)
		free := true
		for i := range n {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatalf("cannot find %d consecutive free ports", n)
	return 0
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
