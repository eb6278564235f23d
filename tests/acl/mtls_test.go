package acl

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testcerts"
)

// TestACLsNameClientCertificateSubjects: on an SSL listener with client certificates
// required, the principal is the certificate's subject (User:CN=alice,O=Acme), and ACLs
// naming it apply: alice's certificate may produce and read, another one may not.
func TestACLsNameClientCertificateSubjects(t *testing.T) {
	ca := testcerts.NewCA(t, "kafscale-acl-ca")
	cert := ca.Server(t, "broker")
	in, sa, se := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	_, sePort, _ := net.SplitHostPort(se)
	f := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(f, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	testbroker.Start(t,
		"--listeners", "INTERNAL://"+in+",SASL://"+sa+",SECURE://"+se,
		"--advertised-listeners", "SECURE://localhost:"+sePort,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT,SECURE:SSL",
		"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile,
		"--ssl-ca-file", ca.CertFile, "--ssl-client-auth", "required",
		"--sasl-enabled-mechanisms", "PLAIN", "--sasl-plain-users-file", f,
		"--authorizer", "--super-users", "User:admin")
	secure := "localhost:" + sePort
	createTopics(t, sa, "mtls-orders")
	addACLs(t, sa, kadm.NewACLs().Allow("User:CN=alice,O=Acme").AllowHosts().Topics("mtls-orders").Operations(kadm.OpWrite, kadm.OpRead))

	certClient := func(cn string, opts ...kgo.Opt) *kgo.Client {
		leaf := ca.Client(t, cn, pkix.Name{CommonName: cn, Organization: []string{"Acme"}})
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(secure), kgo.RequestRetries(2),
			kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{leaf.TLS}})}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	produce := func(cn string) error {
		cl := certClient(cn, kgo.DisableIdempotentWrite())
		defer cl.Close()
		return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "mtls-orders", Value: []byte(cn)}).FirstErr()
	}
	eventually(t, "alice's certificate may produce", func() error { return produce("alice") })
	cons := certClient("alice", kgo.ConsumeTopics("mtls-orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctxT(t))
	if err := fs.Err0(); err != nil || fs.NumRecords() == 0 {
		t.Fatalf("alice's certificate reads mtls-orders: %v, %d records", err, fs.NumRecords())
	}
	if err := produce("mallory"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("mallory's certificate produces: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// librdkafka's clients with the same certificates (PEM files: ssl.certificate.location,
	// ssl.key.location): kcat and PyPI confluent-kafka.
	alice := ca.Client(t, "alice-rdkafka", pkix.Name{CommonName: "alice", Organization: []string{"Acme"}})
	mallory := ca.Client(t, "mallory-rdkafka", pkix.Name{CommonName: "mallory", Organization: []string{"Acme"}})
	sslArgs := func(l *testcerts.Leaf) []string {
		return []string{"-b", secure, "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + ca.CertFile,
			"-X", "ssl.certificate.location=" + l.CertFile, "-X", "ssl.key.location=" + l.KeyFile}
	}
	if out, err := kcat(t, "m1\nm2\n", append(sslArgs(alice), "-q", "-P", "-t", "mtls-orders")...); err != nil {
		t.Fatalf("kcat -P with alice's certificate: %v\n%s", err, out)
	}
	if out, err := kcat(t, "", append(sslArgs(alice), "-q", "-C", "-t", "mtls-orders", "-o", "-2", "-e")...); err != nil || !strings.Contains(out, "m2") {
		t.Fatalf("kcat -C with alice's certificate: %v\n%s", err, out)
	}
	if out, err := kcat(t, "x\n", append(sslArgs(mallory), "-P", "-t", "mtls-orders")...); err == nil || !strings.Contains(strings.ToLower(out), "topic authorization failed") {
		t.Fatalf("kcat -P with mallory's certificate: %v, want Topic authorization failed\n%s", err, out)
	}
	conf := func(l *testcerts.Leaf) map[string]any {
		return map[string]any{"bootstrap.servers": secure, "security.protocol": "SSL", "ssl.ca.location": ca.CertFile,
			"ssl.certificate.location": l.CertFile, "ssl.key.location": l.KeyFile}
	}
	if res := runConfluentConf(t, conf(alice), map[string]any{"mode": "produce", "topic": "mtls-orders", "n": 3}); len(res.Errors) > 0 || res.Unflushed != 0 {
		t.Fatalf("confluent-kafka produce with alice's certificate: %+v", res)
	}
	res := runConfluentConf(t, conf(mallory), map[string]any{"mode": "produce", "topic": "mtls-orders", "n": 1})
	if !strings.Contains(strings.Join(res.Errors, " "), "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("confluent-kafka produce with mallory's certificate: %+v, want TOPIC_AUTHORIZATION_FAILED", res)
	}
}
