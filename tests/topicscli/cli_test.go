// Package topicscli tests `kafscale topics` as an operator runs it: the binary against a
// real `kafscale dev`, each verb in table and JSON output, Kafka errors (exit 1) and bad
// invocations (exit 2).
package topicscli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/admin"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int // exit status
}

// kafscaleTopics runs `kafscale topics VERB -b addr ARGS...` and returns its output and
// exit status.
func kafscaleTopics(t *testing.T, addr string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := []string{"topics"}
	if len(args) > 0 {
		// The address goes before the test's own flags, so that a test can override it.
		full = append(full, args[0], "-b", addr)
		full = append(full, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, testbroker.Binary(t), full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kafscale %s timed out", strings.Join(full, " "))
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("cannot run kafscale %s: %v", strings.Join(full, " "), err)
	}
	return r
}

// mustTopics runs a verb that must succeed and returns its stdout.
func mustTopics(t *testing.T, addr string, args ...string) string {
	t.Helper()
	r := kafscaleTopics(t, addr, args...)
	if r.code != 0 {
		t.Fatalf("kafscale topics %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// mustJSON runs a verb with --output json that must succeed and decodes its output.
func mustJSON(t *testing.T, addr string, into any, args ...string) {
	t.Helper()
	out := mustTopics(t, addr, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), into); err != nil {
		t.Fatalf("kafscale topics %s printed no JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// mustFail runs a verb that must fail with exit status code and an error naming want.
func mustFail(t *testing.T, addr string, code int, want string, args ...string) {
	t.Helper()
	r := kafscaleTopics(t, addr, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Errorf("kafscale topics %s: exit %d, stderr %q; want exit %d and an error containing %q",
			strings.Join(args, " "), r.code, r.stderr, code, want)
	}
}

var nameSeq atomic.Int64

// uniqueName returns a topic name unique in this test binary.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameSeq.Add(1))
}

// produce writes n records to each listed partition and waits for their acknowledgement.
func produce(t *testing.T, addr, topic string, perPartition map[int32]int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, n := range perPartition {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "v%d", i)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("cannot produce to %s: %v", topic, err)
	}
}

// describeOne describes one topic in JSON.
func describeOne(t *testing.T, addr, topic string) admin.TopicDescription {
	t.Helper()
	var ds []admin.TopicDescription
	mustJSON(t, addr, &ds, "describe", topic)
	if len(ds) != 1 || ds[0].Topic != topic {
		t.Fatalf("describe %s returned %+v", topic, ds)
	}
	return ds[0]
}

// configsOf returns a description's configs as name -> value@source.
func configsOf(d admin.TopicDescription) map[string]string {
	m := map[string]string{}
	for _, c := range d.Configs {
		m[c.Name] = c.Value + "@" + c.Source
	}
	return m
}

// TestTopicsCLICreateListDescribeDelete walks a topic's life through the verbs, checking
// the JSON against the cluster and the table's headers and rows.
func TestTopicsCLICreateListDescribeDelete(t *testing.T) {
	b := testbroker.Start(t)
	topic := uniqueName("orders")

	var created struct {
		admin.CreatedTopic
		Created bool `json:"created"`
	}
	mustJSON(t, b.Addr, &created, "create", topic, "--partitions", "3", "--config", "retention.ms=3600000", "--config", "cleanup.policy=delete")
	if !created.Created || created.Topic != topic || created.Partitions != 3 || created.ReplicationFactor != 1 || created.ID == "" {
		t.Fatalf("create: %+v", created)
	}
	table := mustTopics(t, b.Addr, "create", uniqueName("plain"), "--partitions", "1")
	if !strings.HasPrefix(table, "Created topic plain-") || !strings.Contains(table, "1 partitions, replication factor 1, id ") {
		t.Errorf("create (table) printed %q", table)
	}

	var listed []admin.TopicListing
	mustJSON(t, b.Addr, &listed, "list")
	i := slices.IndexFunc(listed, func(l admin.TopicListing) bool { return l.Topic == topic })
	if i < 0 || listed[i].Partitions != 3 || listed[i].ID != created.ID || listed[i].Internal {
		t.Fatalf("list = %+v, want %s with 3 partitions and id %s", listed, topic, created.ID)
	}
	table = mustTopics(t, b.Addr, "list", "--internal")
	if !strings.HasPrefix(table, "TOPIC ") || !strings.Contains(table, "REPLICATION-FACTOR") || !strings.Contains(table, topic+" ") {
		t.Errorf("list (table) printed:\n%s", table)
	}

	produce(t, b.Addr, topic, map[int32]int{0: 12, 2: 5})
	d := describeOne(t, b.Addr, topic)
	wantEnd := map[int32]int64{0: 12, 1: 0, 2: 5}
	if len(d.Partitions) != 3 || d.ID != created.ID {
		t.Fatalf("describe: %+v", d)
	}
	for _, p := range d.Partitions {
		if p.Leader != 0 || p.LeaderEpoch < 0 || p.LogStart != 0 || p.LogEnd != wantEnd[p.Partition] || p.Err != "" || !slices.Equal(p.Replicas, []int32{0}) {
			t.Errorf("describe partition %d: %+v, want leader 0, log 0-%d", p.Partition, p, wantEnd[p.Partition])
		}
	}
	wantCfg := map[string]string{"retention.ms": "3600000@DYNAMIC_TOPIC_CONFIG", "cleanup.policy": "delete@DYNAMIC_TOPIC_CONFIG"}
	for k, v := range wantCfg {
		if configsOf(d)[k] != v {
			t.Errorf("describe configs = %v, want %s=%s among them", configsOf(d), k, v)
		}
	}
	for _, c := range d.Configs {
		if c.Source == "DEFAULT_CONFIG" {
			t.Errorf("describe shows a default config: %+v", c)
		}
	}
	table = mustTopics(t, b.Addr, "describe", topic)
	for _, want := range []string{
		"Topic " + topic + " (3 partitions, id " + created.ID + ")",
		"PARTITION  LEADER  LEADER-EPOCH  REPLICAS  ISR  LOG-START-OFFSET  LOG-END-OFFSET",
		"Configs not at their defaults:",
		"retention.ms    3600000  DYNAMIC_TOPIC_CONFIG",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("describe (table) lacks %q:\n%s", want, table)
		}
	}
	var all []admin.TopicDescription
	mustJSON(t, b.Addr, &all, "describe")
	if !slices.ContainsFunc(all, func(d admin.TopicDescription) bool { return d.Topic == topic }) {
		t.Errorf("describe without a NAME does not describe %s: %+v", topic, all)
	}

	var deleted []struct {
		Topic   string `json:"topic"`
		Deleted bool   `json:"deleted"`
		Err     string `json:"error"`
	}
	mustJSON(t, b.Addr, &deleted, "delete", topic)
	if len(deleted) != 1 || !deleted[0].Deleted || deleted[0].Err != "" {
		t.Fatalf("delete %s: %+v", topic, deleted)
	}
	mustFail(t, b.Addr, 1, "describe "+topic+": topic does not exist", "describe", topic)
	mustJSON(t, b.Addr, &listed, "list")
	if slices.ContainsFunc(listed, func(l admin.TopicListing) bool { return l.Topic == topic }) {
		t.Errorf("list after delete still shows %s: %+v", topic, listed)
	}
}

// TestTopicsCLIAlterConfig: --set and --delete in one IncrementalAlterConfigs, seen by
// describe; a bad value is the broker's INVALID_CONFIG and changes nothing.
func TestTopicsCLIAlterConfig(t *testing.T) {
	b := testbroker.Start(t)
	topic := uniqueName("alter")
	mustTopics(t, b.Addr, "create", topic, "--partitions", "1", "--config", "cleanup.policy=delete")

	out := mustTopics(t, b.Addr, "alter-config", topic, "--set", "retention.ms=7200000", "--set", "max.message.bytes=2097152", "--delete", "cleanup.policy")
	if want := "Altered configs of topic " + topic + ": set retention.ms=7200000, set max.message.bytes=2097152, deleted cleanup.policy\n"; out != want {
		t.Errorf("alter-config printed %q, want %q", out, want)
	}
	got := configsOf(describeOne(t, b.Addr, topic))
	if got["retention.ms"] != "7200000@DYNAMIC_TOPIC_CONFIG" || got["max.message.bytes"] != "2097152@DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("after --set: configs %v", got)
	}
	if _, ok := got["cleanup.policy"]; ok {
		t.Errorf("after --delete cleanup.policy: configs %v still show it", got)
	}

	var res struct {
		Topic   string            `json:"topic"`
		Set     map[string]string `json:"set"`
		Deleted []string          `json:"deleted"`
	}
	mustJSON(t, b.Addr, &res, "alter-config", topic, "--delete", "max.message.bytes")
	if res.Topic != topic || len(res.Set) != 0 || !slices.Equal(res.Deleted, []string{"max.message.bytes"}) {
		t.Errorf("alter-config --output json: %+v", res)
	}

	mustFail(t, b.Addr, 1, "alter-config "+topic+": INVALID_CONFIG", "alter-config", topic, "--set", "retention.ms=soon")
	if got := configsOf(describeOne(t, b.Addr, topic)); got["retention.ms"] != "7200000@DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("a refused alter-config changed the configs: %v", got)
	}
	mustFail(t, b.Addr, 1, "UNKNOWN_TOPIC_OR_PARTITION", "alter-config", uniqueName("missing"), "--set", "retention.ms=1")
}

// TestTopicsCLIDeleteRecords: the log start moves to --offset, -1 means the high
// watermark, and the new low watermark is printed and seen by describe.
func TestTopicsCLIDeleteRecords(t *testing.T) {
	b := testbroker.Start(t)
	topic := uniqueName("trim")
	mustTopics(t, b.Addr, "create", topic, "--partitions", "2")
	produce(t, b.Addr, topic, map[int32]int{0: 30, 1: 20})

	out := mustTopics(t, b.Addr, "delete-records", topic, "--partition", "0", "--offset", "10")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 ||
		!slices.Equal(strings.Fields(lines[0]), []string{"TOPIC", "PARTITION", "LOW-WATERMARK"}) ||
		!slices.Equal(strings.Fields(lines[1]), []string{topic, "0", "10"}) {
		t.Errorf("delete-records printed %q, want a table with the low watermark 10", out)
	}
	var res struct {
		Topic        string `json:"topic"`
		Partition    int32  `json:"partition"`
		LowWatermark int64  `json:"low_watermark"`
	}
	mustJSON(t, b.Addr, &res, "delete-records", topic, "--partition", "1", "--before-offset", "-1")
	if res.Topic != topic || res.Partition != 1 || res.LowWatermark != 20 {
		t.Errorf("delete-records --before-offset -1: %+v, want low watermark 20 (the high watermark)", res)
	}
	d := describeOne(t, b.Addr, topic)
	for _, p := range d.Partitions {
		if want := map[int32]int64{0: 10, 1: 20}[p.Partition]; p.LogStart != want {
			t.Errorf("partition %d: log start %d after delete-records, want %d", p.Partition, p.LogStart, want)
		}
	}
	mustFail(t, b.Addr, 1, "OFFSET_OUT_OF_RANGE", "delete-records", topic, "--partition", "0", "--offset", "31")
	mustFail(t, b.Addr, 1, "UNKNOWN_TOPIC_OR_PARTITION", "delete-records", topic, "--partition", "7", "--offset", "0")
}

// TestTopicsCLIKafkaErrors: refusals by the cluster name the verb, the topic and the
// Kafka error, exit 1, and --if-not-exists / --if-exists turn the expected ones into
// success.
func TestTopicsCLIKafkaErrors(t *testing.T) {
	b := testbroker.Start(t)
	topic, missing := uniqueName("dup"), uniqueName("missing")
	mustTopics(t, b.Addr, "create", topic, "--partitions", "2")

	mustFail(t, b.Addr, 1, "kafscale topics: create "+topic+": TOPIC_ALREADY_EXISTS", "create", topic, "--partitions", "2")
	if out := mustTopics(t, b.Addr, "create", topic, "--partitions", "2", "--if-not-exists"); out != "Topic "+topic+" already exists\n" {
		t.Errorf("create --if-not-exists of an existing topic printed %q", out)
	}
	mustFail(t, b.Addr, 1, "create bad-cfg: INVALID_CONFIG", "create", "bad-cfg", "--partitions", "1", "--config", "no.such.config=1")
	mustFail(t, b.Addr, 1, "describe "+missing+": topic does not exist", "describe", missing)
	mustFail(t, b.Addr, 1, "delete "+missing+": UNKNOWN_TOPIC_OR_PARTITION", "delete", missing)

	var deleted []struct {
		Topic   string `json:"topic"`
		Deleted bool   `json:"deleted"`
		Err     string `json:"error"`
	}
	mustJSON(t, b.Addr, &deleted, "delete", topic, missing, "--if-exists")
	if len(deleted) != 2 || !deleted[0].Deleted || deleted[1].Deleted || deleted[1].Err != "" {
		t.Errorf("delete --if-exists of one existing and one missing topic: %+v", deleted)
	}
	mustFail(t, "127.0.0.1:1", 1, "cannot send CreateTopics", "create", "x", "--partitions", "1", "--timeout", "5s")
}

// TestTopicsCLIRejectsBadInvocations: each bad flag, argument or verb is named in the
// error, exits 2, and nothing reaches the cluster (the address has no listener).
func TestTopicsCLIRejectsBadInvocations(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown verb "frobnicate"`},
		{[]string{"create", "--partitions", "1"}, "create: missing NAME"},
		{[]string{"create", "t"}, "--partitions is required"},
		{[]string{"create", "t", "--partitions", "0"}, `--partitions must be >= 1 or -1 (set to "0")`},
		{[]string{"create", "t", "--partitions", "1", "--replication-factor", "0"}, "--replication-factor must be"},
		{[]string{"create", "t", "--partitions", "1", "--config", "retention.ms"}, `-config: want KEY=VALUE (got "retention.ms")`},
		{[]string{"create", "t", "--partitions", "1", "--config", "=1"}, "want KEY=VALUE"},
		{[]string{"create", "t", "u", "--partitions", "1"}, "takes one NAME"},
		{[]string{"list", "extra"}, "list: takes no arguments"},
		{[]string{"list", "--output", "yaml"}, "--output must be table or json"},
		{[]string{"list", "--timeout", "0s"}, "--timeout must be > 0"},
		{[]string{"list", "--frob"}, "flag provided but not defined: -frob"},
		{[]string{"delete"}, "delete: missing NAME"},
		{[]string{"alter-config", "t"}, "at least one --set k=v or --delete k"},
		{[]string{"alter-config", "--set", "a=b"}, "alter-config: missing NAME"},
		{[]string{"alter-config", "t", "--set", "a"}, "want KEY=VALUE"},
		{[]string{"alter-config", "t", "--delete", "a=b"}, "want a config name"},
		{[]string{"alter-config", "t", "--set", "a=1", "--delete", "a"}, "a is in both --set and --delete"},
		{[]string{"delete-records", "t", "--offset", "1"}, "--partition is required"},
		{[]string{"delete-records", "t", "--partition", "x", "--offset", "1"}, "--partition must be"},
		{[]string{"delete-records", "t", "--partition", "0"}, "--offset (or --before-offset) is required"},
		{[]string{"delete-records", "t", "--partition", "0", "--offset", "-2"}, "--offset must be an offset >= 0 or -1"},
		{[]string{"delete-records", "t", "--partition", "0", "--before-offset", "x"}, "--before-offset must be"},
		{[]string{"delete-records", "t", "--partition", "0", "--offset", "1", "--before-offset", "1"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			mustFail(t, "127.0.0.1:1", 2, tt.want, tt.args...)
		})
	}
	mustFail(t, "no-port", 2, "--bootstrap-server must be host:port", "list")
	if r := kafscaleTopics(t, ""); r.code != 2 || !strings.Contains(r.stderr, "missing verb") {
		t.Errorf("kafscale topics without a verb: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := kafscaleTopics(t, "127.0.0.1:1", "create", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: kafscale topics create NAME --partitions N") {
		t.Errorf("create -h: exit %d, stdout %q", r.code, r.stdout)
	}
}
