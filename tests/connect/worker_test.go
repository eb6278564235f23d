package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
)

// debugEnv names extra classes (comma-separated) the worker logs at DEBUG, for finding out
// why a request to KafScale failed, such as
// KAFSCALE_CONNECT_DEBUG=org.apache.kafka.connect.util.TopicAdmin,org.apache.kafka.clients.NetworkClient.
const debugEnv = "KAFSCALE_CONNECT_DEBUG"

// worker is one Kafka Connect worker in distributed mode (ConnectDistributed, as
// bin/connect-distributed.sh runs it), a child process of the test. Its fields are used by
// the test's goroutine only, except log (safe for concurrent writes) and exited (closed by
// the goroutine that waits for the process).
type worker struct {
	cp     string // class path: the test's connectors (src/), then the jars
	props  string // worker.properties
	jvmArg []string
	rest   string // http://127.0.0.1:port
	log    *logbuf.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// startWorker starts a distributed worker against the Kafka listener bootstrap with the
// worker configuration users write (bin/connect-distributed.sh's example, with the
// replication factors a production cluster gets) and waits until its REST API answers. It
// is stopped by its PID when the test ends; its log is printed if the test failed.
func startWorker(t *testing.T, bootstrap string, run connectRun) *worker {
	t.Helper()
	dir := t.TempDir()
	restAddr := kafkatest.FreeAddr(t)
	_, port, _ := strings.Cut(restAddr, ":")
	props := strings.Join([]string{
		"bootstrap.servers=" + bootstrap,
		"group.id=kafscale-connect",
		"key.converter=org.apache.kafka.connect.json.JsonConverter",
		"value.converter=org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable=true",
		"value.converter.schemas.enable=true",
		// The worker creates its three topics, compacted; a production cluster asks for 3
		// replicas, or -1 for the broker's default (KIP-464): KafScale answers both.
		"config.storage.topic=connect-configs",
		"config.storage.replication.factor=3",
		"offset.storage.topic=connect-offsets",
		"offset.storage.replication.factor=3",
		"status.storage.topic=connect-status",
		"status.storage.replication.factor=-1",
		"offset.flush.interval.ms=1000",
		"listeners=http://" + restAddr,
		"rest.advertised.host.name=127.0.0.1",
		"rest.advertised.port=" + port,
	}, "\n") + "\n"
	w := &worker{
		cp:    workerClasspath(t, run),
		props: filepath.Join(dir, "worker.properties"),
		rest:  "http://" + restAddr,
		log:   &logbuf.Buffer{},
	}
	log4j := filepath.Join(dir, "log4j2.properties")
	writeFile(t, w.props, props)
	writeFile(t, log4j, log4jConfig(os.Getenv(debugEnv)))
	// bin/connect-distributed.sh's heap; the quick compiler alone starts the worker sooner
	// on a small machine.
	w.jvmArg = []string{"-Xms256m", "-Xmx2g", "-XX:TieredStopAtLevel=1", "-Dlog4j2.configurationFile=" + log4j}
	t.Cleanup(func() {
		if w.running() {
			w.kill()
		}
		if t.Failed() {
			t.Logf("connect worker log (last 32 KiB):\n%s", w.log.Tail(32<<10))
			if f, err := os.CreateTemp("", "kafscale-connect-worker-*.log"); err == nil {
				_, _ = io.WriteString(f, w.log.Tail(1<<30))
				_ = f.Close()
				t.Logf("the whole worker log is in %s", f.Name())
			}
		}
	})
	w.start(t)
	return w
}

// workerClasspath returns the worker's class path for run: the jars scripts/test-deps.sh
// copied from tests/connect/pom.xml for its version, less those it omits, after the
// test's own connectors (src/) if it runs them.
func workerClasspath(t *testing.T, run connectRun) string {
	t.Helper()
	deps := jvm.Deps(t, "connect-"+run.version)
	var cp []string
	if strings.HasPrefix(run.source, "io.kafscale.") || strings.HasPrefix(run.sink, "io.kafscale.") {
		classes, _, _ := strings.Cut(jvm.Compile(t, "src", deps), string(os.PathListSeparator))
		// The ServiceLoader manifests a connector's jar carries (KIP-898), so the worker
		// finds them as it finds packaged plugins.
		services := filepath.Join(classes, "META-INF", "services")
		if err := os.MkdirAll(services, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(services, "org.apache.kafka.connect.source.SourceConnector"), "io.kafscale.connecttest.LineSourceConnector\n")
		writeFile(t, filepath.Join(services, "org.apache.kafka.connect.sink.SinkConnector"), "io.kafscale.connecttest.LineSinkConnector\n")
		cp = append(cp, classes)
	}
	jars, _ := filepath.Glob(filepath.Join(deps, "*.jar"))
	for _, jar := range jars {
		if !slices.ContainsFunc(run.omit, func(prefix string) bool { return strings.HasPrefix(filepath.Base(jar), prefix) }) {
			cp = append(cp, jar)
		}
	}
	return strings.Join(cp, string(os.PathListSeparator))
}

// log4jConfig is the worker's logging: INFO to stdout, as Kafka's connect-log4j2.yaml,
// less the configuration dumps of every client; DEBUG for the classes named in debug.
func log4jConfig(debug string) string {
	lines := []string{
		"status = warn",
		"appender.out.type = Console",
		"appender.out.name = OUT",
		"appender.out.layout.type = PatternLayout",
		"appender.out.layout.pattern = [%d] %p %m (%c)%n",
		"rootLogger.level = INFO",
		"rootLogger.appenderRef.out.ref = OUT",
	}
	quiet := []string{
		"org.apache.kafka.clients.producer.ProducerConfig",
		"org.apache.kafka.clients.consumer.ConsumerConfig",
		"org.apache.kafka.clients.admin.AdminClientConfig",
		"org.apache.kafka.connect.runtime.distributed.DistributedConfig",
		"org.apache.kafka.connect.runtime.ConnectorConfig",
		"org.apache.kafka.connect.runtime.SourceConnectorConfig",
		"org.apache.kafka.connect.runtime.SinkConnectorConfig",
		"org.apache.kafka.connect.runtime.TaskConfig",
		"org.apache.kafka.connect.json.JsonConverterConfig",
		"org.apache.kafka.connect.storage.StringConverterConfig",
		"org.apache.kafka.common.utils.AppInfoParser",
		"org.apache.kafka.connect.runtime.isolation",
		"org.eclipse.jetty",
		"org.glassfish.jersey",
	}
	for i, name := range quiet {
		lines = append(lines, fmt.Sprintf("logger.q%d.name = %s", i, name), fmt.Sprintf("logger.q%d.level = WARN", i))
	}
	for i, name := range strings.Split(debug, ",") {
		if name = strings.TrimSpace(name); name != "" {
			lines = append(lines, fmt.Sprintf("logger.d%d.name = %s", i, name), fmt.Sprintf("logger.d%d.level = DEBUG", i))
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// start launches the worker on its configuration and waits up to 60 s for its REST API.
func (w *worker) start(t testing.TB) {
	t.Helper()
	if w.running() {
		t.Fatal("BUG: worker started twice")
	}
	w.starts++
	fmt.Fprintf(w.log, "=== kafscale test: worker start %d ===\n", w.starts)
	args := append(append([]string{"-cp", w.cp}, w.jvmArg...),
		"org.apache.kafka.connect.cli.ConnectDistributed", w.props)
	cmd := exec.Command(jvm.Tool(t, "java"), args...)
	cmd.Stdout, cmd.Stderr = w.log, w.log
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the connect worker: %v", err)
	}
	w.cmd, w.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(w.exited)
	kafkatest.WaitUntil(t, 60*time.Second, "the connect worker's REST API", func() error {
		if !w.running() {
			t.Fatalf("the connect worker exited: %v", cmd.ProcessState)
		}
		var info struct {
			Version        string `json:"version"`
			KafkaClusterID string `json:"kafka_cluster_id"`
		}
		if err := w.call(http.MethodGet, "/", nil, &info); err != nil {
			return err
		}
		// /connectors answers only once the worker joined its group and read its
		// config topic.
		return w.call(http.MethodGet, "/connectors", nil, nil)
	})
	t.Logf("connect worker %d (pid %d) ready in %s", w.starts, cmd.Process.Pid, time.Since(began).Round(time.Millisecond))
}

// stop sends SIGTERM, as a user stopping the worker does, and waits up to 60 s for a clean
// exit (its shutdown hook stops the tasks and commits their offsets).
func (w *worker) stop(t testing.TB) {
	t.Helper()
	began := time.Now()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(60 * time.Second):
		dump := w.threadDump()
		w.kill()
		// Seen once under a loaded CI: Connect's shutdown hook stuck in Jetty stopping the
		// REST server, before it touched Kafka ("WARN Unable to destroy"). That hang is
		// Connect's, not the broker's: the offsets it would have flushed were already
		// stored (the caller waits for them), so the run goes on after a kill.
		if strings.Contains(dump, "RestServer.stop") {
			t.Logf("the connect worker's shutdown hung in Connect's REST server (Jetty) for 60 s; killed it. Its threads:\n%s", dump)
			return
		}
		t.Fatalf("the connect worker did not exit within 60 s of SIGTERM; its threads:\n%s", dump)
	}
	t.Logf("connect worker %d stopped by SIGTERM in %s (%v)", w.starts, time.Since(began).Round(time.Millisecond), w.cmd.ProcessState)
}

// threadDump asks the JVM for its threads (SIGQUIT prints them to the worker's output)
// and returns them, or what it got within 10 s.
func (w *worker) threadDump() string {
	mark := len(w.log.Tail(1 << 30))
	_ = w.cmd.Process.Signal(syscall.SIGQUIT)
	deadline := time.Now().Add(10 * time.Second)
	for {
		dump := w.log.Tail(1 << 30)[mark:]
		// "JNI global refs" is the dump's last line.
		if strings.Contains(dump, "JNI global refs") || time.Now().After(deadline) {
			return dump
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	<-w.exited
}

func (w *worker) running() bool {
	if w.cmd == nil {
		return false
	}
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// call sends one REST request and decodes a 2xx answer into out (if not nil); another
// status is an error that carries the worker's message.
func (w *worker) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.rest+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s answered %q: %w", method, path, b, err)
		}
	}
	return nil
}

// putConnector creates or updates connector name with config (PUT
// /connectors/{name}/config), retrying while the worker answers 409 (a rebalance) or is
// not reachable, for up to 30 s.
func (w *worker) putConnector(t testing.TB, name string, config map[string]string) {
	t.Helper()
	kafkatest.WaitUntil(t, 30*time.Second, "PUT /connectors/"+name+"/config", func() error {
		return w.call(http.MethodPut, "/connectors/"+name+"/config", config, nil)
	})
}

// connectorStatus is the answer of GET /connectors/{name}/status.
type connectorStatus struct {
	Connector struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

// waitRunning polls the REST API until connector name and its tasks are RUNNING; a FAILED
// state fails the test at once with its stack trace.
func (w *worker) waitRunning(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	kafkatest.WaitUntil(t, timeout, name+" RUNNING with its tasks", func() error {
		var st connectorStatus
		if err := w.call(http.MethodGet, "/connectors/"+name+"/status", nil, &st); err != nil {
			return err
		}
		if st.Connector.State == "FAILED" {
			t.Fatalf("connector %s FAILED:\n%s", name, st.Connector.Trace)
		}
		for _, task := range st.Tasks {
			if task.State == "FAILED" {
				t.Fatalf("task %d of connector %s FAILED:\n%s", task.ID, name, task.Trace)
			}
		}
		if st.Connector.State != "RUNNING" || len(st.Tasks) == 0 {
			return fmt.Errorf("connector %s, %d tasks", st.Connector.State, len(st.Tasks))
		}
		for _, task := range st.Tasks {
			if task.State != "RUNNING" {
				return fmt.Errorf("task %d %s", task.ID, task.State)
			}
		}
		return nil
	})
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
