package quota

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// rdkafkaRecords records of rdkafkaValueSize bytes are what each librdkafka client moves
// under a quota of rdkafkaRate: 192 KiB, three times the 64 KiB (10 windows of 200 ms) the
// quota lets through before it throttles.
const (
	rdkafkaRecords   = 48
	rdkafkaValueSize = 4 << 10
	rdkafkaRate      = 32 << 10
)

// TestThrottleSeenByLibrdkafkaClients: kcat (Debian's librdkafka) and PyPI confluent-kafka,
// each producing and consuming under a client-id quota, are told of the throttle: kcat
// prints librdkafka's throttle callback ("throttled request for N ms"), confluent-kafka's
// throttle_cb is called with a throttle time above 0. The producers write batches of at
// most 16 KiB (batch.size; librdkafka's default is 1 MB): a fetch answer holds at least one
// whole batch, and one larger than what the consumer's quota allows over the measured span
// (64 KiB here) could never be served without taking the consumer over it, so the consumer
// would be throttled forever, on Kafka as on KafScale.
func TestThrottleSeenByLibrdkafkaClients(t *testing.T) {
	p := testbroker.Start(t, windowArgs...)
	const topic = "quota-rdkafka"
	kafkatest.CreateTopic(t, p.Addr, topic, 1)
	for _, q := range []struct{ id, key string }{
		{"kcat-quota-producer", "producer_byte_rate"}, {"kcat-quota-consumer", "consumer_byte_rate"},
		{"confluent-quota-producer", "producer_byte_rate"}, {"confluent-quota-consumer", "consumer_byte_rate"},
	} {
		setQuota(t, p.Addr, "client-id", q.id, q.key, rdkafkaRate)
	}

	t.Run("kcat", func(t *testing.T) {
		lines := strings.Repeat(strings.Repeat("k", rdkafkaValueSize)+"\n", rdkafkaRecords)
		stderr := kcat(t, lines, "-b", p.Addr, "-X", "client.id=kcat-quota-producer", "-X", "batch.size=16384", "-P", "-t", topic, "-p", "0")
		if !strings.Contains(stderr, "throttled request for") {
			t.Errorf("kcat -P under a producer quota printed no throttle:\n%s", stderr)
		}
		stderr = kcat(t, "", "-b", p.Addr, "-X", "client.id=kcat-quota-consumer", "-C", "-t", topic, "-p", "0",
			"-o", "beginning", "-c", "48", "-e")
		if !strings.Contains(stderr, "throttled request for") {
			t.Errorf("kcat -C under a consumer quota printed no throttle:\n%s", stderr)
		}
	})

	t.Run("confluent-kafka", func(t *testing.T) {
		var res, cres confluentQuotaResult
		job := map[string]any{"mode": "produce", "topic": topic, "n": rdkafkaRecords, "size": rdkafkaValueSize,
			"conf": map[string]any{"bootstrap.servers": p.Addr, "client.id": "confluent-quota-producer", "batch.size": 16384}}
		runConfluentQuota(t, job, &res)
		if len(res.Errors) > 0 || res.Unflushed != 0 || maxOf(res.Throttles) <= 0 {
			t.Errorf("confluent-kafka producer under a quota: %+v, want every record delivered and a throttle above 0", res)
		}
		t.Logf("confluent-kafka producer: throttles %v ms", res.Throttles)
		job = map[string]any{"mode": "consume", "topic": topic, "n": rdkafkaRecords,
			"conf": map[string]any{"bootstrap.servers": p.Addr, "client.id": "confluent-quota-consumer"}}
		runConfluentQuota(t, job, &cres)
		if len(cres.Errors) > 0 || cres.Read != rdkafkaRecords || maxOf(cres.Throttles) <= 0 {
			t.Errorf("confluent-kafka consumer under a quota: %+v, want %d records read and a throttle above 0", cres, rdkafkaRecords)
		}
		t.Logf("confluent-kafka consumer: throttles %v ms", cres.Throttles)
	})
}

// confluentQuotaResult is what python/confluent_quota.py prints.
type confluentQuotaResult struct {
	Errors    []string `json:"errors"`
	Unflushed int      `json:"unflushed"`
	Read      int      `json:"read"`
	Throttles []int    `json:"throttles"`
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// kcat runs kcat with stdin and returns its stderr, failing the test if it fails.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("cannot find kcat: %v; run scripts/test-deps.sh", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// runConfluentQuota runs python/confluent_quota.py with job and decodes its result into out.
func runConfluentQuota(t *testing.T, job map[string]any, out any) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "python", "confluent_quota.py")
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pyclientsPython(t), script)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("confluent_quota.py: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("confluent_quota.py printed %q: %v\n%s", stdout.String(), err, stderr.String())
	}
}

// pyclientsPython returns the python of the venv scripts/test-deps.sh makes for
// tests/pyclients (PyPI confluent-kafka, bundling a recent librdkafka).
func pyclientsPython(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("cannot find the cache folder: %v", err)
	}
	python := filepath.Join(cache, "kafscale", "pyclients-venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("cannot find the Python clients' venv: %v; run scripts/test-deps.sh", err)
	}
	return python
}
