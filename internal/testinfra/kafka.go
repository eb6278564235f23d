package testinfra

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	byteorder "encoding/binary" // testinfra has a func binary
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/jvm"
)

// kafkaJVMFlags are the broker's JVM flags. An oracle broker serves a few hundred requests
// on a loaded 2-core machine, so it is tuned to start soon rather than to run fast:
//   - -XX:TieredStopAtLevel=1: C1 only. C2 compiling Kafka's start-up code competes with it
//     for the two cores and pays back only on long runs.
//   - -XX:+UseSerialGC: no GC threads to start or to schedule; a 512 MiB heap collects in
//     milliseconds.
//   - -Xmx512m (what KAFKA_HEAP_OPTS would set), -Xss512k for the few hundred threads.
//
// Measured with TestKafkaStartsAndAnswers on the 2-core development machine: see
// docs/oracle.md.
var kafkaJVMFlags = []string{
	"-Xms128m", "-Xmx512m", "-Xss512k",
	"-XX:TieredStopAtLevel=1",
	"-XX:+UseSerialGC",
	"-Djava.awt.headless=true",
}

// kafkaStopTimeout bounds a clean shutdown; SIGKILL follows.
const kafkaStopTimeout = 5 * time.Second

// kafkaReadyTimeout bounds the start: formatting, JVM start, KRaft election, registration.
const kafkaReadyTimeout = 90 * time.Second

// Kafka is a single Apache Kafka node in KRaft mode, broker and controller in one process,
// run from the jars scripts/test-deps.sh installs (internal/jvm). It is the oracle for
// "what does Kafka answer": tests send it the requests they send KafScale and compare.
// Its methods are for the test goroutine.
type Kafka struct {
	// Addr is the PLAINTEXT listener, 127.0.0.1:<port>: the bootstrap address for clients.
	Addr string
	// ControllerAddr is the CONTROLLER listener, 127.0.0.1:<port>.
	ControllerAddr string
	// SASLAddr is the SASL_PLAINTEXT listener (SASL/PLAIN) KafkaSASLPlain adds, 127.0.0.1:<port>;
	// empty without it.
	SASLAddr string
	// NodeID is the node's node.id (broker and controller).
	NodeID int32
	// ClusterID is the id the log directory was formatted with.
	ClusterID string
	// DataDir holds the log directory (topics and the cluster metadata); it survives Stop.
	DataDir string
	// ConfigDir holds server.properties, log4j2.properties and server.log.
	ConfigDir string
	// StartupTime is how long the last start took, from launching the JVM (after
	// formatting) to the first Metadata response that lists the broker.
	StartupTime time.Duration

	p *process
}

// KafkaOption changes how StartKafka configures the node.
type KafkaOption func(s *kafkaSettings)

// kafkaSettings are what options change: server.properties, the JVM's flags, and the
// SASL/PLAIN users of a SASL_PLAINTEXT listener (none: no such listener).
type kafkaSettings struct {
	props     map[string]string
	jvmFlags  []string
	saslUsers map[string]string
}

// KafkaProperty sets a server.properties entry, overriding the helper's value. The node
// id, listeners and log.dirs are the helper's to set: the Kafka fields describe them.
func KafkaProperty(name, value string) KafkaOption {
	return func(s *kafkaSettings) { s.props[name] = value }
}

// KafkaSASLPlain adds a SASL_PLAINTEXT listener (Kafka.SASLAddr) on which the given users
// (name -> password) log in with SASL/PLAIN, as the JAAS users of Kafka's PlainLoginModule.
// The PLAINTEXT listener stays (as User:ANONYMOUS): the node's own readiness check uses it,
// and with an authorizer on, super.users must name User:ANONYMOUS for the node's
// inter-broker and controller traffic.
func KafkaSASLPlain(users map[string]string) KafkaOption {
	return func(s *kafkaSettings) { s.saslUsers = users }
}

// KafkaBenchmarkJVM runs the node with the JVM flags Kafka's own bin/kafka-server-start.sh
// and kafka-run-class.sh give it (a 1 GiB heap, G1 with 20 ms pause goals, both compilers),
// rather than the quick-start flags an oracle uses: for benchmarks (bench/, kbench's kafka
// target), where Kafka must run as its users run it.
func KafkaBenchmarkJVM() KafkaOption {
	return func(s *kafkaSettings) {
		s.jvmFlags = []string{"-Xmx1G", "-Xms1G", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
			"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"}
	}
}

// StartKafka formats a log directory in a new t.TempDir() with kafka-storage and starts
// one KRaft node (process.roles=broker,controller) on two free loopback ports, configured
// for a single node (replication factors 1, no initial rebalance delay, num.partitions=1,
// other settings Kafka's defaults, such as auto.create.topics.enable=true). It waits until
// Metadata lists the broker, and stops the node (SIGTERM, then SIGKILL after 5 s) when the
// test ends, showing the tail of its server.log and output if the test failed.
func StartKafka(t testing.TB, opts ...KafkaOption) *Kafka {
	t.Helper()
	k := &Kafka{
		Addr:           fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		ControllerAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		NodeID:         1,
		ClusterID:      newKafkaClusterID(t),
		DataDir:        t.TempDir(),
		ConfigDir:      t.TempDir(),
	}
	props := map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          fmt.Sprint(k.NodeID),
		"controller.quorum.bootstrap.servers":              k.ControllerAddr,
		"listeners":                                        "PLAINTEXT://" + k.Addr + ",CONTROLLER://" + k.ControllerAddr,
		"advertised.listeners":                             "PLAINTEXT://" + k.Addr + ",CONTROLLER://" + k.ControllerAddr,
		"controller.listener.names":                        "CONTROLLER",
		"inter.broker.listener.name":                       "PLAINTEXT",
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs":                                         k.DataDir,
		"offsets.topic.replication.factor":                 "1",
		"transaction.state.log.replication.factor":         "1",
		"transaction.state.log.min.isr":                    "1",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
		"group.initial.rebalance.delay.ms":                 "0",
		"num.partitions":                                   "1",
	}
	settings := &kafkaSettings{props: props, jvmFlags: kafkaJVMFlags}
	for _, o := range opts {
		o(settings)
	}
	if settings.saslUsers != nil {
		k.SASLAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		props["listeners"] += ",SASL_PLAINTEXT://" + k.SASLAddr
		props["advertised.listeners"] += ",SASL_PLAINTEXT://" + k.SASLAddr
		props["listener.security.protocol.map"] += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
		props["sasl.enabled.mechanisms"] = "PLAIN"
		names := make([]string, 0, len(settings.saslUsers))
		for n := range settings.saslUsers {
			names = append(names, n)
		}
		sort.Strings(names)
		jaas := "org.apache.kafka.common.security.plain.PlainLoginModule required"
		for _, n := range names {
			jaas += fmt.Sprintf(" user_%s=%q", n, settings.saslUsers[n])
		}
		props["listener.name.sasl_plaintext.plain.sasl.jaas.config"] = jaas + ";"
	}
	propsFile := filepath.Join(k.ConfigDir, "server.properties")
	writeFile(t, propsFile, propertiesText(props))
	log4j := filepath.Join(k.ConfigDir, "log4j2.properties")
	writeFile(t, log4j, kafkaLog4j(filepath.Join(k.ConfigDir, "server.log")))
	flags := append([]string{"-Dlog4j2.configurationFile=" + log4j}, settings.jvmFlags...)

	format := jvm.KafkaCommandJVM(t, flags, "kafka-storage", "format",
		"--config", propsFile, "--cluster-id", k.ClusterID, "--standalone")
	begin := time.Now()
	if out, err := runFor(format, 60*time.Second); err != nil {
		t.Fatalf("testinfra: kafka-storage format: %v\n%s", err, out)
	}
	formatTime := time.Since(begin)

	server := jvm.KafkaCommandJVM(t, flags, "kafka-server-start", propsFile)
	k.p = newProcess(t, "kafka", server.Path, server.Args[1:], environ(""))
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("kafka %s server.log (last 8 KiB):\n%s\nkafka output (last 4 KiB):\n%s", k.Addr, k.ServerLog(8<<10), k.p.log.Tail(4<<10))
		}
	})
	k.Start()
	t.Logf("testinfra: kafka %s ready in %s (format %s, then start %s; controller %s, node %d, cluster %s, data %s)",
		k.Addr, time.Since(begin).Round(time.Millisecond), formatTime.Round(time.Millisecond), k.StartupTime.Round(time.Millisecond),
		k.ControllerAddr, k.NodeID, k.ClusterID, k.DataDir)
	return k
}

// Start starts the node again on the same data and ports and waits until Metadata lists
// the broker.
func (k *Kafka) Start() {
	k.p.t.Helper()
	begin := time.Now()
	k.p.start()
	k.p.waitFor(kafkaReadyTimeout, k.ready)
	k.StartupTime = time.Since(begin)
}

// Stop stops the node with SIGTERM (SIGKILL after 5 s); its data stays for Start.
func (k *Kafka) Stop() {
	if !k.p.running() {
		return
	}
	_ = k.p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.p.exited:
	case <-time.After(kafkaStopTimeout):
		k.p.kill()
	}
}

// Pid returns the node's process id (0 when it does not run), for CPU and RSS probes.
func (k *Kafka) Pid() int {
	if !k.p.running() {
		return 0
	}
	return k.p.cmd.Process.Pid
}

// Kill stops the node with SIGKILL; its data stays for Start.
func (k *Kafka) Kill() { k.p.kill() }

// Running reports whether the node's process is alive.
func (k *Kafka) Running() bool { return k.p.running() }

// Log returns up to n trailing bytes of the process's stdout and stderr (warnings and
// errors only; the rest goes to ServerLog).
func (k *Kafka) Log(n int) string { return k.p.log.Tail(n) }

// ServerLog returns up to n trailing bytes of server.log (INFO and up).
func (k *Kafka) ServerLog(n int) string {
	f, err := os.Open(filepath.Join(k.ConfigDir, "server.log"))
	if err != nil {
		return fmt.Sprintf("(cannot read server.log: %v)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > int64(n) {
		_, _ = f.Seek(st.Size()-int64(n), io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// ready sends Metadata v1 for no topics and wants the broker listed: a KRaft broker lists
// itself once the controller has unfenced it, when it can host partitions.
func (k *Kafka) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", k.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	req.Topics = []kmsg.MetadataRequestTopic{} // none; nil would mean all
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	if err := roundTrip(conn, req, resp); err != nil {
		return err
	}
	if len(resp.Brokers) == 0 {
		return fmt.Errorf("metadata lists no broker yet")
	}
	return nil
}

// roundTrip sends req (a version with request header v1 and response header v0) on conn
// and decodes the response into resp.
func roundTrip(conn net.Conn, req kmsg.Request, resp kmsg.Response) error {
	const corr = 1
	clientID := "testinfra"
	b := make([]byte, 4, 64)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &clientID)
	b = req.AppendTo(b)
	byteorder.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := conn.Write(b); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	n := byteorder.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return fmt.Errorf("response frame size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	if got := byteorder.BigEndian.Uint32(body); got != corr {
		return fmt.Errorf("response correlation id %d, want %d", got, corr)
	}
	resp.SetVersion(req.GetVersion())
	return resp.ReadFrom(body[4:])
}

// newKafkaClusterID returns a random cluster id as Kafka's Uuid prints it (16 bytes,
// URL-safe base64 without padding), never starting with '-', which the tool's argument
// parser would take for an option.
func newKafkaClusterID(t testing.TB) string {
	t.Helper()
	for {
		var u [16]byte
		if _, err := rand.Read(u[:]); err != nil {
			t.Fatalf("testinfra: cannot make a cluster id: %v", err)
		}
		if id := base64.RawURLEncoding.EncodeToString(u[:]); id[0] != '-' {
			return id
		}
	}
}

// propertiesText renders props as a Java properties file, sorted by name.
func propertiesText(props map[string]string) string {
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%s\n", n, props[n])
	}
	return b.String()
}

// kafkaLog4j is a log4j2 configuration that writes INFO and up to file and copies
// warnings and errors to stderr.
func kafkaLog4j(file string) string {
	return `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ` + file + `
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
rootLogger.appenderRef.err.ref = err
rootLogger.appenderRef.err.level = warn
`
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatalf("testinfra: cannot write %s: %v", path, err)
	}
}

// runFor runs cmd to its end, killing it after timeout, and returns its combined output.
func runFor(cmd *exec.Cmd, timeout time.Duration) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		err = fmt.Errorf("killed after %s: %w", timeout, err)
	}
	return out.String(), err
}
