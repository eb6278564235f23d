package acl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/internal/jvm"
)

// kcatArgs log kcat in as user over SASL/PLAIN.
func kcatArgs(seed, user string) []string {
	return []string{"-b", seed, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + user, "-X", "sasl.password=" + user + "-secret"}
}

func kcat(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("cannot find kcat: %v; run scripts/test-deps.sh", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// testKcat: kcat (librdkafka) as alice produces to and reads orders (her ACLs allow both);
// as bob, whose ACLs do not name orders... after the deny-wins subtest he may only read
// secret, so his produce to orders is refused with librdkafka's "Topic authorization failed".
func testKcat(t *testing.T, seed string) {
	if out, err := kcat(t, "k1\nk2\n", append(kcatArgs(seed, "alice"), "-q", "-P", "-t", "orders")...); err != nil {
		t.Fatalf("kcat -P as alice: %v\n%s", err, out)
	}
	out, err := kcat(t, "", append(kcatArgs(seed, "alice"), "-q", "-C", "-t", "orders", "-o", "-2", "-e")...)
	if err != nil || !strings.Contains(out, "k2") {
		t.Fatalf("kcat -C as alice: %v\n%s", err, out)
	}
	out, err = kcat(t, "b1\n", append(kcatArgs(seed, "bob"), "-P", "-t", "orders")...)
	if err == nil || !strings.Contains(strings.ToLower(out), "topic authorization failed") {
		t.Fatalf("kcat -P as bob: %v, want Topic authorization failed\n%s", err, out)
	}
	out, err = kcat(t, "", append(kcatArgs(seed, "bob"), "-C", "-t", "orders", "-o", "beginning", "-e")...)
	if err == nil || !strings.Contains(strings.ToLower(out), "topic authorization failed") {
		t.Fatalf("kcat -C as bob: %v, want Topic authorization failed\n%s", err, out)
	}
	// kcat's balanced consumer (-G, librdkafka's group consumer): alice in a group a
	// prefixed ACL allows reads orders; in another group she is refused.
	addACLs(t, seed, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("kcat-").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead))
	eventually(t, "alice may describe group kcat-alice", func() error {
		gs, err := admin(t, seed, "alice").DescribeGroups(ctxT(t), "kcat-alice")
		if err == nil {
			err = gs.Error()
		}
		return err
	})
	out, err = kcat(t, "", append(kcatArgs(seed, "alice"), "-q", "-X", "auto.offset.reset=earliest", "-G", "kcat-alice", "-e", "orders")...)
	if err != nil || !strings.Contains(out, "k2") {
		t.Fatalf("kcat -G kcat-alice as alice: %v\n%s", err, out)
	}
	out, err = kcat(t, "", append(kcatArgs(seed, "alice"), "-X", "auto.offset.reset=earliest", "-G", "other-group", "-e", "orders")...)
	if err == nil || !strings.Contains(strings.ToLower(out), "group authorization failed") {
		t.Fatalf("kcat -G other-group as alice: %v, want Group authorization failed\n%s", err, out)
	}
}

// tool runs one of Apache Kafka's tools and returns its output, failing the test if it fails.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := jvm.KafkaCommand(t, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", name, err)
	}
	timer := time.AfterFunc(2*timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// testKafkaACLs: Apache Kafka's kafka-acls, logged in as the super user, adds an ACL that
// lets bob read tools-topic (and he then can), lists it, and removes it (and he no longer
// can).
func testKafkaACLs(t *testing.T, seed string) {
	createTopics(t, seed, "tools-topic")
	if err := produceErr(t, seed, "admin", "tools-topic"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "admin.properties")
	props := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" +
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";` + "\n"
	if err := os.WriteFile(cfg, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--bootstrap-server", seed, "--command-config", cfg}
	tool(t, "kafka-acls", append(base, "--add", "--allow-principal", "User:bob", "--operation", "Read", "--topic", "tools-topic")...)
	out := tool(t, "kafka-acls", append(base, "--list", "--topic", "tools-topic")...)
	if !strings.Contains(out, "principal=User:bob") || !strings.Contains(out, "operation=READ") || !strings.Contains(out, "permissionType=ALLOW") {
		t.Fatalf("kafka-acls --list does not show bob's ACL:\n%s", out)
	}
	eventually(t, "bob reads tools-topic", func() error { return consumeErr(t, seed, "bob", "tools-topic", "") })
	tool(t, "kafka-acls", append(base, "--remove", "--force", "--allow-principal", "User:bob", "--operation", "Read", "--topic", "tools-topic")...)
	if out := tool(t, "kafka-acls", append(base, "--list", "--topic", "tools-topic")...); strings.Contains(out, "User:bob") {
		t.Fatalf("kafka-acls --list after --remove still shows bob:\n%s", out)
	}
	eventually(t, "bob is denied tools-topic", func() error {
		if err := consumeErr(t, seed, "bob", "tools-topic", ""); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			return fmt.Errorf("bob reads tools-topic: %v", err)
		}
		return nil
	})
}

// javaSASL are the Java client's properties to log in as user over SASL/PLAIN.
func javaSASL(user string) []string {
	props := []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN",
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="` + user + `" password="` + user + `-secret";`}
	var args []string
	for _, p := range props {
		args = append(args, "--command-property", p)
	}
	return args
}

// runJava runs one of Apache Kafka's tools with stdin and returns its stdout and stderr;
// a tool that does not end within timeout is killed.
func runJava(t *testing.T, stdin, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := jvm.KafkaCommand(t, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", name, err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	return out.String(), errOut.String(), err
}

// testJavaClients: Apache Kafka's console producer and consumer (the Java client) as alice
// write and read orders (in group java-alice, which a prefixed group ACL allows); as bob the producer's send fails with TopicAuthorizationException.
func testJavaClients(t *testing.T, seed string) {
	// The console consumer reads in a group: alice gets every group named java-*.
	addACLs(t, seed, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("java-").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead))
	eventually(t, "alice may describe group java-alice", func() error {
		gs, err := admin(t, seed, "alice").DescribeGroups(ctxT(t), "java-alice")
		if err == nil {
			err = gs.Error()
		}
		return err
	})
	if _, stderr, err := runJava(t, "j1\nj2\n", "kafka-console-producer", append([]string{"--bootstrap-server", seed, "--topic", "orders"}, javaSASL("alice")...)...); err != nil || strings.Contains(stderr, "Exception") {
		t.Fatalf("Java producer as alice: %v\n%s", err, stderr)
	}
	out, stderr, err := runJava(t, "", "kafka-console-consumer", append([]string{"--bootstrap-server", seed, "--topic", "orders", "--group", "java-alice",
		"--from-beginning", "--max-messages", "2", "--timeout-ms", "30000"}, javaSASL("alice")...)...)
	if err != nil || len(strings.Fields(out)) != 2 {
		t.Fatalf("Java consumer as alice: %v, read %q\n%s", err, out, stderr)
	}
	out, stderr, err = runJava(t, "b1\n", "kafka-console-producer", append([]string{"--bootstrap-server", seed, "--topic", "orders"}, javaSASL("bob")...)...)
	if !strings.Contains(out+stderr, "TopicAuthorizationException") {
		t.Fatalf("Java producer as bob: %v, want TopicAuthorizationException, got\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
}
