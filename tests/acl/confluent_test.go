package acl

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
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

// confluentResult is what python/confluent_acl.py prints.
type confluentResult struct {
	Errors    []string `json:"errors"`
	Unflushed int      `json:"unflushed"`
	Values    []string `json:"values"`
	// Topics and Outcomes are the admin mode's: the topics listed, and each call's
	// error name (NONE).
	Topics   []string          `json:"topics"`
	Outcomes map[string]string `json:"outcomes"`
}

// runConfluent runs python/confluent_acl.py as user (SASL/PLAIN) with job.
func runConfluent(t *testing.T, seed, user string, job map[string]any) confluentResult {
	t.Helper()
	return runConfluentConf(t, map[string]any{"bootstrap.servers": seed, "security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanisms": "PLAIN", "sasl.username": user, "sasl.password": user + "-secret"}, job)
}

// runConfluentConf runs python/confluent_acl.py with job and the client settings conf.
func runConfluentConf(t *testing.T, conf map[string]any, job map[string]any) confluentResult {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "python", "confluent_acl.py")
	job["conf"] = conf
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pyclientsPython(t), script)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("confluent_acl.py: %v\n%s", err, stderr.String())
	}
	var res confluentResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("confluent_acl.py printed %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	return res
}

// testConfluentKafka: PyPI confluent-kafka as alice produces to orders and reads it in a
// group a prefixed group ACL allows; as bob its produce gets TOPIC_AUTHORIZATION_FAILED and
// its group consumption GROUP_AUTHORIZATION_FAILED.
func testConfluentKafka(t *testing.T, seed string) {
	addACLs(t, seed, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("confluent-").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead))
	eventually(t, "alice may describe group confluent-alice", func() error {
		gs, err := admin(t, seed, "alice").DescribeGroups(ctxT(t), "confluent-alice")
		if err == nil {
			err = gs.Error()
		}
		return err
	})
	if res := runConfluent(t, seed, "alice", map[string]any{"mode": "produce", "topic": "orders", "n": 3}); len(res.Errors) > 0 || res.Unflushed != 0 {
		t.Fatalf("confluent-kafka produce as alice: %+v", res)
	}
	if res := runConfluent(t, seed, "alice", map[string]any{"mode": "consume", "topic": "orders", "n": 3, "group": "confluent-alice"}); len(res.Errors) > 0 || len(res.Values) != 3 {
		t.Fatalf("confluent-kafka group consume as alice: %+v", res)
	}
	res := runConfluent(t, seed, "bob", map[string]any{"mode": "produce", "topic": "orders", "n": 1})
	if !strings.Contains(strings.Join(res.Errors, " "), "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("confluent-kafka produce as bob: %+v, want TOPIC_AUTHORIZATION_FAILED", res)
	}
	res = runConfluent(t, seed, "bob", map[string]any{"mode": "consume", "topic": "secret", "n": 1, "group": "confluent-bob"})
	if !strings.Contains(strings.Join(res.Errors, " "), "GROUP_AUTHORIZATION_FAILED") {
		t.Fatalf("confluent-kafka group consume as bob: %+v, want GROUP_AUTHORIZATION_FAILED", res)
	}
	// alice in a group she may use, subscribed to a topic she may not read.
	res = runConfluent(t, seed, "alice", map[string]any{"mode": "consume", "topic": "secret", "n": 1, "group": "confluent-alice-secret"})
	if !strings.Contains(strings.Join(res.Errors, " "), "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("confluent-kafka consuming secret as alice: %+v, want TOPIC_AUTHORIZATION_FAILED", res)
	}
	// The AdminClient as alice, who may read and write orders and nothing more: she lists
	// orders alone, and every change is refused. Her DescribeAcls is answered
	// CLUSTER_AUTHORIZATION_FAILED, as Kafka answers it (tests/oracle), but confluent-kafka
	// (librdkafka) does not raise that error: it gives an empty list, so she sees no ACL.
	res = runConfluent(t, seed, "alice", map[string]any{"mode": "admin", "topic": "orders", "new_topic": "confluent-new"})
	want := map[string]string{"create_topics": "TOPIC_AUTHORIZATION_FAILED", "delete_topics": "TOPIC_AUTHORIZATION_FAILED",
		"create_partitions": "TOPIC_AUTHORIZATION_FAILED", "describe_acls": "NONE(0)", "create_acls": "CLUSTER_AUTHORIZATION_FAILED"}
	if !slices.Equal(res.Topics, []string{"orders"}) || !maps.Equal(res.Outcomes, want) {
		t.Fatalf("confluent-kafka AdminClient as alice: topics %v, outcomes %v; want [orders] and %v", res.Topics, res.Outcomes, want)
	}
}
