// Package sasl tests SASL authentication with real clients: franz-go (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512, KIP-368 re-authentication), kcat (librdkafka) and Apache Kafka's
// kafka-configs, against `kafscale dev` with an INTERNAL PLAINTEXT, a SASL_PLAINTEXT and a
// SASL_SSL listener, and against a two-broker cluster on etcd and MinIO.
package sasl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testcerts"
)

// timeout bounds each client's run.
const timeout = 60 * time.Second

// saslBroker is a `kafscale dev` with an INTERNAL PLAINTEXT, a SASL (SASL_PLAINTEXT) and a
// SECURE (SASL_SSL) listener.
type saslBroker struct {
	p                       *testbroker.Process
	internal, plain, secure string
	ca                      *testcerts.CA
	usersFile               string
}

// plainUsers is the users file the broker starts with.
const plainUsers = "# PLAIN users\nalice:alice-secret\n"

func startSASLBroker(t *testing.T, extra ...string) *saslBroker {
	t.Helper()
	ca := testcerts.NewCA(t, "kafscale-test-ca")
	cert := ca.Server(t, "broker")
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte(plainUsers), 0o600); err != nil {
		t.Fatal(err)
	}
	in, pl, se := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	_, sePort, _ := net.SplitHostPort(se)
	args := append([]string{
		"--listeners", "INTERNAL://" + in + ",SASL://" + pl + ",SECURE://" + se,
		"--advertised-listeners", "SECURE://localhost:" + sePort,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT,SECURE:SASL_SSL",
		"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile,
		"--sasl-enabled-mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" + oauthMechanism(extra),
		"--sasl-plain-users-file", users,
	}, extra...)
	p := testbroker.Start(t, args...)
	return &saslBroker{p: p, internal: in, plain: pl, secure: "localhost:" + sePort, ca: ca, usersFile: users}
}

// oauthMechanism enables OAUTHBEARER when the extra flags give a key set.
func oauthMechanism(extra []string) string {
	for _, a := range extra {
		if a == "--sasl-oauthbearer-jwks-file" || a == "--sasl-oauthbearer-jwks-endpoint-url" {
			return ",OAUTHBEARER"
		}
	}
	return ""
}

func (b *saslBroker) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: b.ca.Pool(), ServerName: "localhost"}
}

func newClient(t *testing.T, seed string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed), kgo.RequestRetries(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createScramUser creates user with password for mechanism through the INTERNAL listener
// (AlterUserScramCredentials).
func createScramUser(t *testing.T, seed, user, password string, mech kadm.ScramMechanism) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, seed))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: mech, Iterations: 4096, Password: password}})
	if err != nil {
		t.Fatalf("cannot create SCRAM user %s: %v", user, err)
	}
	if err := res.Error(); err != nil {
		t.Fatalf("cannot create SCRAM user %s: %v", user, err)
	}
}

func createTopic(t *testing.T, seed, topic string) {
	t.Helper()
	kafkatest.CreateTopic(t, seed, topic, 1)
}

// produceConsume writes n records through opts's client and reads them back through a
// second client with the same options.
func produceConsume(t *testing.T, seed, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl := newClient(t, seed, append([]kgo.Opt{kgo.DefaultProduceTopic(topic)}, opts...)...)
	for i := range n {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("v%d", i))).FirstErr(); err != nil {
			t.Fatalf("cannot produce: %v", err)
		}
	}
	cons := newClient(t, seed, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%d", got); string(r.Value) != want {
				t.Fatalf("record %d: %q, want %q", got, r.Value, want)
			}
			got++
		})
	}
}

// authError returns the error of a client's first request (a Metadata request).
func authError(t *testing.T, seed string, opts ...kgo.Opt) error {
	t.Helper()
	cl := newClient(t, seed, append([]kgo.Opt{kgo.RequestRetries(0)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	return err
}

func scramMech(user, pass string, sha512 bool) sasl.Mechanism {
	a := scram.Auth{User: user, Pass: pass}
	if sha512 {
		return a.AsSha512Mechanism()
	}
	return a.AsSha256Mechanism()
}

// TestSASLListeners runs every client against one broker (each start costs seconds).
func TestSASLListeners(t *testing.T) {
	iss := newIssuer(t)
	b := startSASLBroker(t, iss.oauthArgs()...)
	createScramUser(t, b.internal, "bob", "bob-secret", kadm.ScramSha256)
	createScramUser(t, b.internal, "bob", "bob-secret-512", kadm.ScramSha512)

	t.Run("FranzGoPlainOverSASLPlaintext", func(t *testing.T) {
		createTopic(t, b.internal, "franz-plain")
		produceConsume(t, b.plain, "franz-plain", 20, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	})
	t.Run("FranzGoScramSHA256OverSASLSSL", func(t *testing.T) {
		createTopic(t, b.internal, "franz-scram256")
		produceConsume(t, b.secure, "franz-scram256", 20, kgo.DialTLSConfig(b.tlsConfig()), kgo.SASL(scramMech("bob", "bob-secret", false)))
	})
	t.Run("FranzGoScramSHA512OverSASLPlaintext", func(t *testing.T) {
		createTopic(t, b.internal, "franz-scram512")
		produceConsume(t, b.plain, "franz-scram512", 20, kgo.SASL(scramMech("bob", "bob-secret-512", true)))
	})
	t.Run("WrongPasswordIsRefused", func(t *testing.T) {
		for name, m := range map[string]sasl.Mechanism{
			"PLAIN":         plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism(),
			"PLAIN-unknown": plain.Auth{User: "mallory", Pass: "x"}.AsMechanism(),
			"SCRAM-SHA-256": scramMech("bob", "wrong", false),
			"SCRAM-SHA-512": scramMech("bob", "bob-secret", true), // the 256 password
			"SCRAM-unknown": scramMech("mallory", "x", false),
		} {
			err := authError(t, b.plain, kgo.SASL(m))
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Errorf("%s with bad credentials: %v, want SASL_AUTHENTICATION_FAILED", name, err)
			}
		}
		kafkatest.WaitFor(t, timeout, "the failures logged", func() bool {
			return strings.Contains(b.p.LogTail(1<<20), "SASL authentication failed")
		})
	})
	t.Run("FailureIsAnsweredWithMessageAfterDelayThenClosed", func(t *testing.T) { testFailureAnswer(t, b.plain) })
	t.Run("GuessersDoNotSlowOthers", func(t *testing.T) { testGuessersDoNotSlowOthers(t, b.plain) })
	t.Run("RequestBeforeAuthenticationClosesConnection", func(t *testing.T) { testRequestBeforeAuth(t, b.plain) })
	t.Run("UnsupportedMechanismListsEnabledOnes", func(t *testing.T) { testUnsupportedMechanism(t, b.plain) })
	t.Run("HandshakeV0WithRawTokens", func(t *testing.T) { testHandshakeV0(t, b.plain) })
	t.Run("SaslHandshakeOnPlaintextListener", func(t *testing.T) { testHandshakeOnPlaintext(t, b.internal) })
	t.Run("KcatScramOverSASLPlaintext", func(t *testing.T) {
		kcatRoundTrip(t, b, "kcat-scram", "-b", b.plain, "-X", "security.protocol=SASL_PLAINTEXT",
			"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=bob", "-X", "sasl.password=bob-secret")
	})
	t.Run("KcatPlainOverSASLSSL", func(t *testing.T) {
		kcatRoundTrip(t, b, "kcat-plain-ssl", "-b", b.secure, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+b.ca.CertFile,
			"-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret")
	})
	t.Run("KcatScramSHA512OverSASLSSL", func(t *testing.T) {
		kcatRoundTrip(t, b, "kcat-scram512-ssl", "-b", b.secure, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+b.ca.CertFile,
			"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob", "-X", "sasl.password=bob-secret-512")
	})
	t.Run("KcatWrongPassword", func(t *testing.T) {
		out, err := kcat(t, "", "-b", b.plain, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256",
			"-X", "sasl.username=bob", "-X", "sasl.password=nope", "-L", "-m", "3")
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("kcat with a wrong password: err %v, output:\n%s", err, out)
		}
	})
	t.Run("PlainUsersFileIsReloaded", func(t *testing.T) {
		m := plain.Auth{User: "dave", Pass: "dave-secret"}.AsMechanism()
		if err := authError(t, b.plain, kgo.SASL(m)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("dave before he is listed: %v", err)
		}
		tmp := b.usersFile + ".new"
		if err := os.WriteFile(tmp, []byte(plainUsers+"dave:dave-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, b.usersFile); err != nil {
			t.Fatal(err)
		}
		kafkatest.WaitUntil(t, timeout, "dave to log in after the users file changed", func() error {
			return authError(t, b.plain, kgo.SASL(m))
		})
	})
	t.Run("KafkaConfigsCreatesScramUser", func(t *testing.T) { testKafkaConfigs(t, b) })
	t.Run("KafscaleUsersCLI", func(t *testing.T) { testUsersCLI(t, b) })
	t.Run("ConfluentKafkaScramOverSASLSSL", func(t *testing.T) { testConfluentKafka(t, b) })
	t.Run("ConfluentKafkaScramSHA256OverSASLPlaintext", func(t *testing.T) { testConfluentKafkaScram256(t, b) })
	t.Run("JavaClientScramOverSASLSSL", func(t *testing.T) { testJavaClient(t, b) })
	t.Run("OAuthBearerOverSASLSSL", func(t *testing.T) { testOAuthBearer(t, b, iss) })
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

func kcatRoundTrip(t *testing.T, b *saslBroker, topic string, args ...string) {
	t.Helper()
	createTopic(t, b.internal, topic)
	if out, err := kcat(t, "a\nb\nc\n", append(args, "-q", "-P", "-t", topic)...); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	out, err := kcat(t, "", append(args, "-q", "-C", "-t", topic, "-o", "beginning", "-e")...)
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	if got := strings.Fields(out); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Fatalf("kcat read %q, want a b c", out)
	}
}

// testKafkaConfigs: Apache Kafka's kafka-configs creates a SCRAM user (through
// AlterUserScramCredentials), describes it, and the user logs in; --delete-config removes
// the credential and the login fails.
func testKafkaConfigs(t *testing.T, b *saslBroker) {
	user := []string{"--bootstrap-server", b.internal, "--entity-type", "users", "--entity-name", "carol"}
	out := tool(t, "kafka-configs", append(user, "--alter", "--add-config", "SCRAM-SHA-256=[iterations=8192,password=carol-secret]")...)
	if !strings.Contains(out, "Completed updating config for user carol.") {
		t.Fatalf("kafka-configs --alter: %s", out)
	}
	out = tool(t, "kafka-configs", append(user, "--describe")...)
	if !strings.Contains(out, "SCRAM-SHA-256=iterations=8192") {
		t.Fatalf("kafka-configs --describe: %s", out)
	}
	// Every user: DescribeUserScramCredentials with no names (and DescribeClientQuotas).
	out = tool(t, "kafka-configs", "--bootstrap-server", b.internal, "--describe", "--entity-type", "users")
	if !strings.Contains(out, "SCRAM credential configs for user-principal 'carol' are SCRAM-SHA-256=iterations=8192") {
		t.Fatalf("kafka-configs --describe --entity-type users: %s", out)
	}
	m := scramMech("carol", "carol-secret", false)
	if err := authError(t, b.plain, kgo.SASL(m)); err != nil {
		t.Fatalf("carol cannot log in: %v", err)
	}
	tool(t, "kafka-configs", append(user, "--alter", "--delete-config", "SCRAM-SHA-256")...)
	if err := authError(t, b.plain, kgo.SASL(m)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("carol after her credential was deleted: %v", err)
	}
}

// testUsersCLI: `kafscale users` creates a SCRAM user (password from stdin), lists it,
// the user logs in, and after `kafscale users delete` it no longer does.
func testUsersCLI(t *testing.T, b *saslBroker) {
	bin := testbroker.PlainBinary(t)
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"users"}, append(args, "-b", b.internal)...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kafscale users %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("frank-secret\n", "create", "frank", "--password-file", "-", "--mechanism", "SCRAM-SHA-512", "--iterations", "4096")
	if out := run("", "list", "frank"); !strings.Contains(out, "frank") || !strings.Contains(out, "SCRAM-SHA-512") || !strings.Contains(out, "4096") {
		t.Fatalf("kafscale users list frank:\n%s", out)
	}
	m := scramMech("frank", "frank-secret", true)
	if err := authError(t, b.plain, kgo.SASL(m)); err != nil {
		t.Fatalf("frank cannot log in: %v", err)
	}
	// The same CLI over the SASL_SSL listener, with Kafka tools' client properties.
	props := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(props, []byte("security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location="+b.ca.CertFile+
		"\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"frank\" password=\"frank-secret\";\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "users", "list", "frank", "-b", b.secure, "--command-config", props).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SCRAM-SHA-512") {
		t.Fatalf("kafscale users list over SASL_SSL: %v\n%s", err, out)
	}
	run("", "delete", "frank")
	if err := authError(t, b.plain, kgo.SASL(m)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("frank after kafscale users delete: %v", err)
	}
}
