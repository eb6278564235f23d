package jvmtest

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testcerts"
	"github.com/kafscale/kafscale/internal/testjwt"
)

// securityMain is the Java program of TestJavaClientSecurity
// (security/src/main/java/io/kafscale/jvmtest/Security.java).
const securityMain = "io.kafscale.jvmtest.Security"

// securityScenarios are Security.java's scenarios, run in this order in one JVM (the quota
// consumer reads what the quota producer wrote).
var securityScenarios = []string{"mtls", "plain", "scram-sha-256", "scram-sha-512", "oauthbearer",
	"acl-producer", "acl-consumer", "acl-admin", "quota-producer", "quota-consumer"}

// javaQuotaRate is the byte rate of the Java quota clients' client ids: Security.java moves
// 192 KiB, several times what the quota lets through before it throttles (10 windows of
// 200 ms at this rate, 64 KiB).
const javaQuotaRate = 32 << 10

// TestJavaClientSecurity runs Apache Kafka's Java client (kafka-clients 4.4.0, on the class
// path of Kafka's own tools, which carries the Jackson and jose4j jars its OAUTHBEARER login
// needs) against `kafscale dev` with an SSL listener requiring client certificates, a
// SASL_PLAINTEXT listener with PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER, the
// authorizer on and client quotas (issue 16, acceptance 6): mTLS with a PEM keystore; each
// SASL mechanism (OAUTHBEARER through OAuthBearerLoginCallbackHandler reading a signed JWT
// from a file:// token endpoint URL); ACLs allowing and denying the producer, the consumer
// (group and fetch) and the AdminClient with the exceptions Java maps Kafka's errors to; and
// quota throttling seen in the client's produce-throttle-time-max and
// fetch-throttle-time-max metrics.
func TestJavaClientSecurity(t *testing.T) {
	ca := testcerts.NewCA(t, "kafscale-java-ca")
	cert := ca.Server(t, "broker")
	client := ca.Client(t, "java-client", pkix.Name{CommonName: "java-client", Organization: []string{"Acme"}})
	iss := testjwt.New(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	writeFile(t, users, "admin:admin-secret\nalice:alice-secret\n")
	in, sa, ms := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	_, msPort, _ := net.SplitHostPort(ms)
	testbroker.Start(t,
		"--listeners", "INTERNAL://"+in+",SASL://"+sa+",MTLS://"+ms,
		"--advertised-listeners", "MTLS://localhost:"+msPort,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT,MTLS:SSL",
		"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile,
		"--ssl-ca-file", ca.CertFile, "--ssl-client-auth", "required",
		"--sasl-enabled-mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER", "--sasl-plain-users-file", users,
		"--sasl-oauthbearer-jwks-file", iss.JWKSFile, "--sasl-oauthbearer-expected-audience", "kafka",
		// User:ANONYMOUS is the INTERNAL listener's principal: the set-up below goes through it.
		"--authorizer", "--super-users", "User:admin;User:ANONYMOUS",
		"--quota-window-num", "11", "--quota-window-size", "200ms")

	cl, err := kgo.NewClient(kgo.SeedBrokers(in))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	kafkatest.CreateTopic(t, in, "acl-allowed", 1)
	kafkatest.CreateTopic(t, in, "acl-denied", 1)
	scram, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "scrammer", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "scrammer-secret"},
		{User: "scrammer", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "scrammer-secret"},
	})
	if err == nil {
		err = scram.Error()
	}
	if err != nil {
		t.Fatalf("cannot create the SCRAM user: %v", err)
	}
	prefixed := func(principal, prefix string) *kadm.ACLBuilder {
		return kadm.NewACLs().Allow(principal).AllowHosts().Topics(prefix).Groups(prefix).
			ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpAll)
	}
	for _, b := range []*kadm.ACLBuilder{
		prefixed("User:CN=java-client,O=Acme", "mtls-"),
		prefixed("User:alice", "plain-"),
		prefixed("User:scrammer", "scram-"),
		prefixed("User:svc-java", "oauth-"),
		kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("acl-group").Operations(kadm.OpRead),
		// Last: once alice may write acl-allowed, the broker has every ACL above (it takes
		// each change as a whole listing of etcd).
		kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("acl-allowed").Operations(kadm.OpRead, kadm.OpWrite),
	} {
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatalf("cannot create ACLs: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("cannot create ACL %+v: %v", r, r.Err)
			}
		}
	}
	alice, err := kgo.NewClient(kgo.SeedBrokers(sa), kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	kafkatest.WaitUntil(t, 10*time.Second, "alice's ACLs to apply", func() error {
		offs, err := kadm.NewClient(alice).ListEndOffsets(ctx, "acl-allowed")
		if err == nil {
			err = offs.Error()
		}
		return err
	})
	for id, key := range map[string]string{"java-quota-producer": "producer_byte_rate", "java-quota-consumer": "consumer_byte_rate"} {
		setClientQuota(t, adm, id, key, javaQuotaRate)
	}

	token := filepath.Join(dir, "token.jwt")
	writeFile(t, token, iss.Token(t, "svc-java", "kafka", 30*time.Minute))
	settings := filepath.Join(dir, "settings.properties")
	writeFile(t, settings, strings.Join([]string{
		"sasl.bootstrap=" + sa,
		"mtls.bootstrap=localhost:" + msPort,
		"ca.file=" + ca.CertFile,
		"client.cert.file=" + client.CertFile,
		"client.key.file=" + client.KeyFile,
		"admin.password=admin-secret",
		"alice.password=alice-secret",
		"scrammer.password=scrammer-secret",
		"oauth.token.url=file://" + token,
	}, "\n")+"\n")

	cp := jvm.Compile(t, "security/src", jvm.Deps(t, "kafka-"+jvm.KafkaVersion))
	stdout, stderr := jvm.Run(t, jvm.Command(t, cp, securityMain, append([]string{settings}, securityScenarios...)...), 4*time.Minute)
	jvm.Check(t, stdout, stderr, securityScenarios...)
}

// setClientQuota sets key of client id id through AlterClientQuotas and waits until the
// broker describes it (what it enforces comes from the same etcd watch).
func setClientQuota(t *testing.T, adm *kadm.Client, id, key string, rate float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	entity := kadm.ClientQuotaEntity{{Type: "client-id", Name: &id}}
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: key, Value: rate}}}})
	if err == nil && len(res) == 1 {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("cannot set %s of client id %s: %v", key, id, err)
	}
	kafkatest.WaitUntil(t, 10*time.Second, "the quota of "+id+" described", func() error {
		d, err := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: &id, MatchType: 0}})
		if err != nil {
			return err
		}
		for _, e := range d {
			for _, v := range e.Values {
				if v.Key == key && v.Value == rate {
					return nil
				}
			}
		}
		return fmt.Errorf("described %+v", d)
	})
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
