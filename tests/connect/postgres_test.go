package connect

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
)

// postgres is one PostgreSQL server (Debian's postgresql package) started by the test on
// a free loopback port, its cluster in a temporary folder, with wal_level=logical for
// Debezium. PostgreSQL refuses to run as root: a root test runs initdb and postgres as the
// package's postgres user.
type postgres struct {
	t      *testing.T
	bin    string // the folder of initdb, postgres and psql
	Port   int
	log    *logbuf.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// postgresBin returns the newest /usr/lib/postgresql/<major>/bin holding initdb, or the
// folder of initdb on PATH.
func postgresBin(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	major := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return major(a) - major(b) })
	if len(dirs) > 0 {
		return filepath.Dir(dirs[len(dirs)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	t.Fatalf("cannot find PostgreSQL's initdb; run scripts/test-deps.sh to install the test dependencies")
	return ""
}

// startPostgres creates a cluster and starts its server, ready for connections; the
// server is stopped (fast shutdown, by its PID) and its folder removed when the test ends.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	pg := &postgres{t: t, bin: postgresBin(t), log: &logbuf.Buffer{}}
	// Not t.TempDir(): its parent folder is private to the test's user, and a root test
	// runs the server as another one.
	dir, err := os.MkdirTemp("", "kafscale-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cred := pg.credential(dir)

	began := time.Now()
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(pg.bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	addr := kafkatest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	pg.Port, _ = strconv.Atoi(port)
	cmd := exec.Command(filepath.Join(pg.bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+port, "-c", "unix_socket_directories="+dir,
		"-c", "wal_level=logical", "-c", "max_wal_senders=4", "-c", "max_replication_slots=4",
		"-c", "fsync=off", "-c", "synchronous_commit=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stdout, cmd.Stderr = pg.log, pg.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start postgres: %v", err)
	}
	pg.cmd, pg.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(pg.exited) }()
	t.Cleanup(func() {
		pg.stop()
		if t.Failed() {
			t.Logf("postgres log (last 8 KiB):\n%s", pg.log.Tail(8<<10))
		}
	})
	kafkatest.WaitUntil(t, 30*time.Second, "postgres accepting connections", func() error {
		select {
		case <-pg.exited:
			t.Fatalf("postgres exited: %v\n%s", cmd.ProcessState, pg.log.Tail(8<<10))
		default:
		}
		_, err := pg.query("SELECT 1")
		return err
	})
	t.Logf("postgres (pid %d) ready on port %d in %s", cmd.Process.Pid, pg.Port, time.Since(began).Round(time.Millisecond))
	return pg
}

// credential returns the user to run PostgreSQL as, giving it dir: none (the test's own)
// unless the test runs as root, then Debian's postgres user.
func (pg *postgres) credential(dir string) *syscall.Credential {
	pg.t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		pg.t.Fatalf("PostgreSQL cannot run as root and there is no postgres user (%v); run scripts/test-deps.sh", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		pg.t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// stop asks for a fast shutdown (SIGINT: open sessions, such as Debezium's replication
// connection, are ended) and waits up to 30 s before killing the server.
func (pg *postgres) stop() {
	select {
	case <-pg.exited:
		return
	default:
	}
	_ = pg.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-pg.exited:
	case <-time.After(30 * time.Second):
		_ = pg.cmd.Process.Kill()
		<-pg.exited
		pg.t.Errorf("postgres did not stop within 30 s of SIGINT")
	}
}

// query runs SQL with psql as the postgres user (ON_ERROR_STOP: the first failing
// statement fails the whole) and returns its unaligned, tuples-only output.
func (pg *postgres) query(sql string) (string, error) {
	cmd := exec.Command(filepath.Join(pg.bin, "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port),
		"-U", "postgres", "-d", "postgres", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql -c %q: %v: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// exec runs SQL, failing the test on an error.
func (pg *postgres) exec(t testing.TB, sql string) {
	t.Helper()
	if _, err := pg.query(sql); err != nil {
		t.Fatal(err)
	}
}
