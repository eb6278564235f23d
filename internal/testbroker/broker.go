package testbroker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/logbuf"
)

// S3 is the object store a `kafscale broker` process is pointed at.
type S3 struct {
	Endpoint  string // e.g. http://127.0.0.1:9000; path-style addressing is used
	Region    string
	Bucket    string
	Prefix    string // optional key prefix inside the bucket
	AccessKey string // passed as AWS_ACCESS_KEY_ID, as the SDK's default chain reads it
	SecretKey string // passed as AWS_SECRET_ACCESS_KEY
}

// Broker is one running (or stopped) `kafscale broker` process on external etcd and S3. It
// embeds Process for Kill, Term, Running, WaitReady, Metrics and LogTail; its own Restart
// runs `kafscale broker` again (Process.Restart would run `dev`).
type Broker struct {
	*Process
	Etcd  []string // --etcd-endpoints
	S3    S3
	plain bool // run PlainBinary, not Binary
}

// StartBroker runs `kafscale broker` on the given etcd endpoints and S3 bucket with extra
// flags, on free loopback ports, and waits until it is ready. It is stopped (SIGKILL) when
// the test ends, and its log is shown if the test failed.
func StartBroker(t testing.TB, etcdEndpoints []string, s3 S3, args ...string) *Broker {
	t.Helper()
	return startBroker(t, etcdEndpoints, s3, false, args)
}

// StartPlainBroker is StartBroker with a binary built without the race detector, for
// tests that bound the broker's memory (see PlainBinary).
func StartPlainBroker(t testing.TB, etcdEndpoints []string, s3 S3, args ...string) *Broker {
	t.Helper()
	return startBroker(t, etcdEndpoints, s3, true, args)
}

func startBroker(t testing.TB, etcdEndpoints []string, s3 S3, plain bool, args []string) *Broker {
	t.Helper()
	b := newBroker(t, etcdEndpoints, s3, plain, args)
	startFresh(t, b.Process, b.Launch, func() {
		b.Addr = freeAddr(t)
		b.MetricsAddr = freeAddr(t)
	})
	return b
}

// newBroker prepares a `kafscale broker` on free ports, stopped (SIGKILL) when the test
// ends, its log shown if the test failed.
func newBroker(t testing.TB, etcdEndpoints []string, s3 S3, plain bool, args []string) *Broker {
	t.Helper()
	b := &Broker{Process: &Process{t: t, Args: args}, Etcd: etcdEndpoints, S3: s3, plain: plain}
	b.Addr = freeAddr(t)
	b.MetricsAddr = freeAddr(t)
	t.Cleanup(func() {
		if b.Running() {
			b.Kill()
		}
		if t.Failed() {
			t.Logf("kafscale broker log (last 8 KiB):\n%s", b.LogTail(8<<10))
		}
	})
	return b
}

// Restart starts `kafscale broker` again on the same ports and waits until it is ready.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Launch()
	b.WaitReady(60 * time.Second)
}

// Launch starts `kafscale broker` again on the same ports without waiting for readiness
// (for a start while etcd or S3 is away).
func (b *Broker) Launch() {
	b.t.Helper()
	if b.Running() {
		b.t.Fatal("testbroker: Launch while the broker still runs")
	}
	args := []string{"broker",
		"--etcd-endpoints", strings.Join(b.Etcd, ","),
		"--s3-bucket", b.S3.Bucket,
		"--s3-endpoint", b.S3.Endpoint,
		"--s3-region", b.S3.Region,
		"--s3-path-style",
		"--metrics-listen", b.MetricsAddr, "--log-format", "text"}
	if !slices.Contains(b.Args, "--listeners") {
		// --listeners replaces --listen: the test chose its listeners' ports itself.
		args = append(args, "--listen", b.Addr)
	}
	if b.S3.Prefix != "" {
		args = append(args, "--s3-prefix", b.S3.Prefix)
	}
	bin := Binary(b.t)
	if b.plain {
		bin = PlainBinary(b.t)
	}
	cmd := exec.Command(bin, append(args, b.Args...)...)
	cmd.Env = brokerEnv(b.S3)
	if b.log == nil {
		b.log = &logbuf.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("cannot start kafscale broker: %v", err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(b.exited) }()
}

// brokerEnv is this process's environment without KAFSCALE_* and AWS_* settings (which
// would change the broker under test), plus the S3 credentials and no AWS config files or
// instance metadata, so the SDK's default chain finds exactly these credentials.
func brokerEnv(s3 S3) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAFSCALE_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+s3.SecretKey,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

// PID returns the process id of the running process.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Readyz asks /readyz once and returns its status code and body.
func (p *Process) Readyz(ctx context.Context) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.MetricsAddr+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// RSS returns the resident set size of the running process in bytes (VmRSS of
// /proc/<pid>/status; Linux only).
func (p *Process) RSS() (int64, error) {
	if !p.Running() {
		return 0, fmt.Errorf("process is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("cannot parse VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cannot parse VmRSS line %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.PID())
}

// Signal sends sig to the running process (e.g. SIGSTOP to freeze it).
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }
