package sasl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kafscale/kafscale/internal/jvm"
)

// pyclientsPython returns the python of the venv scripts/test-deps.sh makes for
// tests/pyclients (PyPI confluent-kafka, bundling a recent librdkafka).
func pyclientsPython(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("cannot find the cache folder: %v", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	python := filepath.Join(cache, "kafscale", "pyclients-venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("cannot find the Python clients' venv: %v; run scripts/test-deps.sh", err)
	}
	return python
}

// runConfluent runs python/confluent_sasl.py with job and decodes its result into out.
func runConfluent(t *testing.T, job map[string]any, out any) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "python", "confluent_sasl.py")
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pyclientsPython(t), script)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("confluent_sasl.py: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("confluent_sasl.py printed %q: %v\n%s", stdout.String(), err, stderr.String())
	}
}

// testConfluentKafka: PyPI confluent-kafka produces and consumes (in a group) with
// SCRAM-SHA-512 over SASL_SSL, and a wrong password fails to authenticate.
func testConfluentKafka(t *testing.T, b *saslBroker) {
	topic := "confluent-scram"
	createTopic(t, b.internal, topic)
	conf := map[string]any{"bootstrap.servers": b.secure, "security.protocol": "SASL_SSL", "ssl.ca.location": b.ca.CertFile,
		"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "bob", "sasl.password": "bob-secret-512"}
	var res struct {
		Errors    []string `json:"errors"`
		Unflushed int      `json:"unflushed"`
		Values    []string `json:"values"`
	}
	runConfluent(t, map[string]any{"mode": "roundtrip", "conf": conf, "topic": topic, "n": 10, "group": "confluent-sasl"}, &res)
	if len(res.Errors) > 0 || res.Unflushed != 0 || len(res.Values) != 10 || res.Values[0] != "v0" || res.Values[9] != "v9" {
		t.Fatalf("confluent-kafka round trip: %+v", res)
	}
	conf["sasl.password"] = "wrong"
	var auth struct {
		Error  *string  `json:"error"`
		Errors []string `json:"errors"`
	}
	runConfluent(t, map[string]any{"mode": "auth", "conf": conf}, &auth)
	all := strings.Join(auth.Errors, " ")
	if auth.Error == nil || !strings.Contains(all, "Authentication failed") {
		t.Fatalf("confluent-kafka with a wrong password: error %q, client errors %q", deref(auth.Error), all)
	}
}

// testConfluentKafkaScram256: PyPI confluent-kafka produces and consumes (in a group) with
// SCRAM-SHA-256 over SASL_PLAINTEXT.
func testConfluentKafkaScram256(t *testing.T, b *saslBroker) {
	topic := "confluent-scram256"
	createTopic(t, b.internal, topic)
	conf := map[string]any{"bootstrap.servers": b.plain, "security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "bob", "sasl.password": "bob-secret"}
	var res struct {
		Errors    []string `json:"errors"`
		Unflushed int      `json:"unflushed"`
		Values    []string `json:"values"`
	}
	runConfluent(t, map[string]any{"mode": "roundtrip", "conf": conf, "topic": topic, "n": 10, "group": "confluent-scram256"}, &res)
	if len(res.Errors) > 0 || res.Unflushed != 0 || len(res.Values) != 10 || res.Values[0] != "v0" || res.Values[9] != "v9" {
		t.Fatalf("confluent-kafka round trip with SCRAM-SHA-256: %+v", res)
	}
}

// testJavaClient: Apache Kafka's console producer and consumer (the Java client) with
// SCRAM-SHA-512 over SASL_SSL.
func testJavaClient(t *testing.T, b *saslBroker) {
	topic := "java-scram"
	createTopic(t, b.internal, topic)
	var props []string
	for _, p := range []string{"security.protocol=SASL_SSL", "ssl.truststore.type=PEM", "ssl.truststore.location=" + b.ca.CertFile,
		"sasl.mechanism=SCRAM-SHA-512",
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="bob-secret-512";`} {
		props = append(props, "--command-property", p)
	}
	runJava(t, "one\ntwo\n", "kafka-console-producer", append([]string{"--bootstrap-server", b.secure, "--topic", topic}, props...)...)
	out := runJava(t, "", "kafka-console-consumer", append([]string{"--bootstrap-server", b.secure, "--topic", topic,
		"--from-beginning", "--max-messages", "2", "--timeout-ms", "30000"}, props...)...)
	if got := strings.Fields(out); len(got) < 2 || got[len(got)-2] != "one" || got[len(got)-1] != "two" {
		t.Fatalf("Java consumer read %q, want one two", out)
	}
}

func runJava(t *testing.T, stdin, tool string, args ...string) string {
	t.Helper()
	cmd := jvm.KafkaCommand(t, tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, errOut.String())
	}
	return fmt.Sprint(out.String())
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
