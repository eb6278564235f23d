package acl

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
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
}
