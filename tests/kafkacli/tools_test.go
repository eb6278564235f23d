// Package kafkacli runs Apache Kafka's own command line tools (Kafka 4.4.0's, from Maven
// Central: scripts/test-deps.sh) against `kafscale dev`, as people troubleshoot a Kafka
// cluster with them (issue 14, acceptance 2). Each test checks the exit status and the
// output.
package kafkacli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// toolTimeout bounds one run of a tool.
const toolTimeout = 2 * time.Minute

// tool runs Apache Kafka's tool (its bin/ script's name) with args and stdin, fails the
// test unless it exits 0, and returns its standard output.
func tool(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runTool(t, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// runTool runs the tool and returns what it printed and how it exited.
func runTool(t *testing.T, stdin string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := jvm.KafkaCommand(t, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", name, err)
	}
	timer := time.AfterFunc(toolTimeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	return out.String(), errOut.String(), err
}

// requireLines fails the test unless every pattern matches a line of out.
func requireLines(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("%s: no line matches %q in:\n%s", what, p, out)
		}
	}
}

// TestKafkaBrokerApiVersions: kafka-broker-api-versions lists the broker and, for the APIs
// every client needs, the versions KafScale serves as usable.
func TestKafkaBrokerApiVersions(t *testing.T) {
	p := testbroker.Start(t)
	out := tool(t, "", "kafka-broker-api-versions", "--bootstrap-server", p.Addr)
	requireLines(t, "kafka-broker-api-versions", out,
		`^`+regexp.QuoteMeta(p.Addr)+` \(id: 0 rack: null`,
		`^\s+Produce\(0\): \d+ to 11 \[usable: 11\]`,
		`^\s+Fetch\(1\): \d+ to \d+ \[usable: \d+\]`,
		`^\s+Metadata\(3\): 0 to 12 \[usable: \d+\]`,
		`^\s+ApiVersions\(18\): 0 to 4 \[usable: 4\]`,
		`^\s+OffsetForLeaderEpoch\(23\): 2 to 4 \[usable: 4\]`,
		`^\s+ConsumerGroupHeartbeat\(68\): 0 to 1 \[usable: \d\]`)
}

// TestKafkaTopics: kafka-topics creates a topic with a config, lists and describes it, adds
// partitions and deletes it; a bad partition count is refused with a message.
func TestKafkaTopics(t *testing.T) {
	p := testbroker.Start(t)
	b := []string{"--bootstrap-server", p.Addr}
	out := tool(t, "", "kafka-topics", append(b, "--create", "--topic", "orders", "--partitions", "3", "--config", "retention.ms=3600000")...)
	requireLines(t, "kafka-topics --create", out, `^Created topic orders\.$`)
	requireLines(t, "kafka-topics --list", tool(t, "", "kafka-topics", append(b, "--list")...), `^orders$`)
	out = tool(t, "", "kafka-topics", append(b, "--describe", "--topic", "orders")...)
	requireLines(t, "kafka-topics --describe", out,
		`^Topic: orders\tTopicId: \S+\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: .*retention\.ms=3600000`,
		`^\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0`,
		`^\tTopic: orders\tPartition: 2\tLeader: 0\tReplicas: 0\tIsr: 0`)
	tool(t, "", "kafka-topics", append(b, "--alter", "--topic", "orders", "--partitions", "5")...)
	out = tool(t, "", "kafka-topics", append(b, "--describe", "--topic", "orders")...)
	requireLines(t, "kafka-topics --describe after --alter", out, `PartitionCount: 5\t`, `^\tTopic: orders\tPartition: 4\tLeader: 0`)

	stdout, stderr, err := runTool(t, "", "kafka-topics", append(b, "--create", "--topic", "bad", "--partitions", "0")...)
	if err == nil {
		t.Errorf("kafka-topics --create --partitions 0 succeeded: %s", stdout)
	} else if !strings.Contains(stdout+stderr, "partitions") {
		t.Errorf("kafka-topics --create --partitions 0 failed without naming the partitions: %s %s", stdout, stderr)
	}

	tool(t, "", "kafka-topics", append(b, "--delete", "--topic", "orders")...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out = tool(t, "", "kafka-topics", append(b, "--list")...)
		if !strings.Contains(out, "orders") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafka-topics --list still lists orders 30 s after --delete:\n%s", out)
		}
	}
}

// TestKafkaConfigsDescribe: kafka-configs describes a topic's dynamic configs and a
// broker's, with sources.
func TestKafkaConfigsDescribe(t *testing.T) {
	p := testbroker.Start(t)
	b := []string{"--bootstrap-server", p.Addr}
	tool(t, "", "kafka-topics", append(b, "--create", "--topic", "cfg", "--partitions", "1", "--config", "cleanup.policy=delete", "--config", "retention.ms=7200000")...)
	out := tool(t, "", "kafka-configs", append(b, "--describe", "--entity-type", "topics", "--entity-name", "cfg")...)
	requireLines(t, "kafka-configs --describe topic", out,
		`^Dynamic configs for topic cfg are:$`,
		`^\s+retention\.ms=7200000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention\.ms=7200000`)
	out = tool(t, "", "kafka-configs", append(b, "--describe", "--entity-type", "brokers", "--entity-name", "0", "--all")...)
	requireLines(t, "kafka-configs --describe broker --all", out,
		`^All configs for broker 0 are:$`,
		`^\s+num\.partitions=1 sensitive=false synonyms=\{`,
		`^\s+message\.max\.bytes=\d+ sensitive=false`)
}

// TestKafkaConsoleRoundTripAndGroups: kafka-console-producer writes records with keys and
// headers; kafka-console-consumer in a group prints them back with both and commits;
// kafka-consumer-groups lists and describes the group (lag 0), resets its offsets to the
// earliest (lag 3); kafka-get-offsets prints the log end.
func TestKafkaConsoleRoundTripAndGroups(t *testing.T) {
	p := testbroker.Start(t)
	b := []string{"--bootstrap-server", p.Addr}
	tool(t, "", "kafka-topics", append(b, "--create", "--topic", "con", "--partitions", "1")...)
	tool(t, "h1:v1,h2:v2\tk1|hello\nh3:v3\tk2|world\nh4:v4\tk3|again\n", "kafka-console-producer",
		append(b, "--topic", "con", "--reader-property", "parse.key=true", "--reader-property", "key.separator=|",
			"--reader-property", "parse.headers=true")...)
	out := tool(t, "", "kafka-console-consumer", append(b, "--topic", "con", "--from-beginning", "--max-messages", "3",
		"--group", "cg", "--formatter-property", "print.key=true", "--formatter-property", "print.headers=true",
		"--formatter-property", "key.separator=|")...)
	if want := "h1:v1,h2:v2|k1|hello\nh3:v3|k2|world\nh4:v4|k3|again\n"; out != want {
		t.Errorf("kafka-console-consumer printed %q, want %q", out, want)
	}
	requireLines(t, "kafka-consumer-groups --list", tool(t, "", "kafka-consumer-groups", append(b, "--list")...), `^cg$`)
	out = tool(t, "", "kafka-consumer-groups", append(b, "--describe", "--group", "cg")...)
	requireLines(t, "kafka-consumer-groups --describe", out, `^cg\s+con\s+0\s+3\s+3\s+0\s`)
	out = tool(t, "", "kafka-consumer-groups", append(b, "--reset-offsets", "--group", "cg", "--topic", "con", "--to-earliest", "--execute")...)
	requireLines(t, "kafka-consumer-groups --reset-offsets", out, `^cg\s+con\s+0\s+0\s*$`)
	out = tool(t, "", "kafka-consumer-groups", append(b, "--describe", "--group", "cg")...)
	requireLines(t, "kafka-consumer-groups --describe after the reset", out, `^cg\s+con\s+0\s+0\s+3\s+3\s`)
	requireLines(t, "kafka-get-offsets", tool(t, "", "kafka-get-offsets", append(b, "--topic", "con")...), `^con:0:3$`)
}

// TestKafkaPerfTests: kafka-producer-perf-test sends 20,000 records (acks=all, its
// default producer) and kafka-consumer-perf-test reads them back; their summaries are
// parsed.
func TestKafkaPerfTests(t *testing.T) {
	p := testbroker.Start(t)
	const n = 20000
	out := tool(t, "", "kafka-producer-perf-test", "--topic", "perf", "--num-records", strconv.Itoa(n), "--record-size", "100",
		"--throughput", "-1", "--command-property", "bootstrap.servers="+p.Addr, "acks=all")
	// The summary is the last such line: a run longer than 5 s prints progress lines first.
	all := regexp.MustCompile(`(?m)^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency`).FindAllStringSubmatch(out, -1)
	var m []string
	if len(all) > 0 {
		m = all[len(all)-1]
	}
	if m == nil || m[1] != strconv.Itoa(n) {
		t.Fatalf("kafka-producer-perf-test did not report %d records sent:\n%s", n, out)
	}
	t.Logf("kafka-producer-perf-test: %s records/s, %s MB/s, %s ms average latency", m[2], m[3], m[4])

	out = tool(t, "", "kafka-consumer-perf-test", "--bootstrap-server", p.Addr, "--topic", "perf", "--num-records", strconv.Itoa(n))
	var header, data []string
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSpace(line), ", ")
		switch {
		case len(f) > 4 && f[0] == "start.time":
			header = f
		case header != nil && len(f) == len(header):
			data = f
		}
	}
	if data == nil {
		t.Fatalf("kafka-consumer-perf-test printed no summary:\n%s", out)
	}
	col := map[string]string{}
	for i, h := range header {
		col[h] = data[i]
	}
	if got := col["data.consumed.in.nMsg"]; got != strconv.Itoa(n) {
		t.Errorf("kafka-consumer-perf-test consumed %s records, want %d:\n%s", got, n, out)
	}
	t.Logf("kafka-consumer-perf-test: %s MB/s, %s records/s", col["MB.sec"], col["nMsg.sec"])
}

// TestKafkaDeleteRecords: kafka-delete-records moves a partition's log start with an
// offsets JSON file, as the user guide runs it; kafka-get-offsets then gives the new
// earliest offset.
func TestKafkaDeleteRecords(t *testing.T) {
	p := testbroker.Start(t)
	b := []string{"--bootstrap-server", p.Addr}
	tool(t, "", "kafka-topics", append(b, "--create", "--topic", "del", "--partitions", "1")...)
	tool(t, strings.Repeat("x\n", 10), "kafka-console-producer", append(b, "--topic", "del")...)
	file := filepath.Join(t.TempDir(), "offsets.json")
	if err := os.WriteFile(file, []byte(`{"partitions":[{"topic":"del","partition":0,"offset":6}],"version":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := tool(t, "", "kafka-delete-records", append(b, "--offset-json-file", file)...)
	requireLines(t, "kafka-delete-records", out, `^Records delete operation completed:$`, `^partition: del-0\s+low_watermark: 6$`)
	requireLines(t, "kafka-get-offsets --time -2", tool(t, "", "kafka-get-offsets", append(b, "--topic", "del", "--time", "-2")...), `^del:0:6$`)
}

// TestKafkaConfigsAlter: kafka-configs --alter adds and deletes a topic's config (through
// IncrementalAlterConfigs), --describe shows each change, and altering a broker setting
// fails with Kafka's message.
func TestKafkaConfigsAlter(t *testing.T) {
	p := testbroker.Start(t)
	b := []string{"--bootstrap-server", p.Addr}
	tool(t, "", "kafka-topics", append(b, "--create", "--topic", "alt", "--partitions", "1")...)
	topic := append(b, "--entity-type", "topics", "--entity-name", "alt")
	out := tool(t, "", "kafka-configs", append(topic, "--alter", "--add-config", "retention.ms=3600000,retention.bytes=1048576")...)
	requireLines(t, "kafka-configs --alter --add-config", out, `^Completed updating config for topic alt\.$`)
	requireLines(t, "kafka-configs --describe after --add-config", tool(t, "", "kafka-configs", append(topic, "--describe")...),
		`^\s+retention\.ms=3600000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention\.ms=3600000`,
		`^\s+retention\.bytes=1048576 sensitive=false`)
	tool(t, "", "kafka-configs", append(topic, "--alter", "--delete-config", "retention.bytes")...)
	out = tool(t, "", "kafka-configs", append(topic, "--describe")...)
	if strings.Contains(out, "retention.bytes") {
		t.Errorf("kafka-configs --describe after --delete-config still lists retention.bytes:\n%s", out)
	}
	stdout, stderr, err := runTool(t, "", "kafka-configs", append(b, "--entity-type", "brokers", "--entity-name", "0", "--alter", "--add-config", "num.partitions=3")...)
	if err == nil || !strings.Contains(stdout+stderr, "Cannot update these configs dynamically") {
		t.Errorf("kafka-configs --alter of a broker setting: %v\n%s%s", err, stdout, stderr)
	}
}
