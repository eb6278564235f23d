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

// TestACLsNameMappedCertificatePrincipals: with --ssl-principal-mapping-rules taking the
// CN of Eng's certificates, an ACL for User:alice lets the certificate
// CN=Alice,OU=Eng,O=Acme produce and read (the rule lower-cases it), bob's Eng certificate
// (User:bob) is refused by the ACLs, and a certificate no rule maps (OU=Sales) cannot
// even connect, as in Kafka.
func TestACLsNameMappedCertificatePrincipals(t *testing.T) {
	ca := testcerts.NewCA(t, "kafscale-mapping-ca")
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
		"--ssl-principal-mapping-rules", "RULE:^CN=([^,]+),OU=Eng,O=Acme$/$1/L",
		"--sasl-enabled-mechanisms", "PLAIN", "--sasl-plain-users-file", f,
		"--authorizer", "--super-users", "User:admin")
	secure := "localhost:" + sePort
	createTopics(t, sa, "mapped-orders")
	addACLs(t, sa, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("mapped-orders").Operations(kadm.OpWrite, kadm.OpRead))

	certClient := func(cn, ou string, opts ...kgo.Opt) *kgo.Client {
		leaf := ca.Client(t, cn+"-"+ou, pkix.Name{CommonName: cn, OrganizationalUnit: []string{ou}, Organization: []string{"Acme"}})
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(secure), kgo.RequestRetries(2),
			kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{leaf.TLS}})}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	produce := func(cn, ou string) error {
		cl := certClient(cn, ou, kgo.DisableIdempotentWrite())
		defer cl.Close()
		return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "mapped-orders", Value: []byte(cn)}).FirstErr()
	}
	eventually(t, "Alice's Eng certificate (User:alice) may produce", func() error { return produce("Alice", "Eng") })
	cons := certClient("Alice", "Eng", kgo.ConsumeTopics("mapped-orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctxT(t))
	if err := fs.Err0(); err != nil || fs.NumRecords() == 0 {
		t.Fatalf("Alice's Eng certificate reads mapped-orders: %v, %d records", err, fs.NumRecords())
	}
	if err := produce("bob", "Eng"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob's Eng certificate produces: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// No rule maps a Sales certificate: the broker closes the connection after the
	// handshake, so the client gets no Kafka answer at all. (A Ping, because a produce
	// would retry its records until the context ends.)
	err := certClient("alice", "Sales").Ping(ctxT(t))
	var kafkaErr *kerr.Error
	if err == nil || errors.As(err, &kafkaErr) {
		t.Fatalf("alice's Sales certificate reaches the broker: %v, want the connection refused", err)
	}
}
