package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"testing"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testcerts"
)

// TestPerListenerTLSFiles: an INTERNAL SSL listener with its own certificate and mTLS
// (--listener-ssl, Kafka's listener.name.internal.ssl.*) beside an EXTERNAL SSL listener
// with a certificate from another CA and no client certificates (--ssl-*). Each listener
// serves its own certificate and asks for client certificates by its own setting, and
// rotating INTERNAL's files changes INTERNAL's certificate only.
func TestPerListenerTLSFiles(t *testing.T) {
	internalCA := testcerts.NewCA(t, "kafscale-internal-ca")
	publicCA := testcerts.NewCA(t, "kafscale-public-ca")
	intCert := internalCA.Server(t, "internal-broker")
	extCert := publicCA.Server(t, "public-broker")
	plain, in, ex := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	_, inPort, _ := net.SplitHostPort(in)
	_, exPort, _ := net.SplitHostPort(ex)
	testbroker.Start(t,
		"--listeners", "PLAIN://"+plain+",INTERNAL://"+in+",EXTERNAL://"+ex,
		"--advertised-listeners", "INTERNAL://localhost:"+inPort+",EXTERNAL://localhost:"+exPort,
		"--listener-security-protocol-map", "PLAIN:PLAINTEXT,INTERNAL:SSL,EXTERNAL:SSL",
		"--ssl-cert-file", extCert.CertFile, "--ssl-key-file", extCert.KeyFile,
		"--listener-ssl", "INTERNAL:cert="+intCert.CertFile+",key="+intCert.KeyFile+",ca="+internalCA.CertFile+",client-auth=required")
	internal, external := "localhost:"+inPort, "localhost:"+exPort

	intCfg := func(client *testcerts.Leaf) *tls.Config {
		cfg := &tls.Config{RootCAs: internalCA.Pool(), ServerName: "localhost"}
		if client != nil {
			cfg.Certificates = []tls.Certificate{client.TLS}
		}
		return cfg
	}
	extCfg := &tls.Config{RootCAs: publicCA.Pool(), ServerName: "localhost"}
	serial := func(addr string, cfg *tls.Config) string {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
		if err != nil {
			t.Fatalf("cannot connect to %s: %v", addr, err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	ping := func(addr string, cfg *tls.Config) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return newClient(t, addr, cfg).Ping(ctx)
	}
	alice := internalCA.Client(t, "alice", pkix.Name{CommonName: "alice"})
	outsider := publicCA.Client(t, "outsider", pkix.Name{CommonName: "outsider"})

	if got, want := serial(external, extCfg), extCert.Cert.SerialNumber.String(); got != want {
		t.Fatalf("EXTERNAL serves serial %s, want the public certificate's %s", got, want)
	}
	if got, want := serial(internal, intCfg(alice)), intCert.Cert.SerialNumber.String(); got != want {
		t.Fatalf("INTERNAL serves serial %s, want the internal certificate's %s", got, want)
	}
	if err := ping(external, extCfg); err != nil {
		t.Fatalf("EXTERNAL without a client certificate: %v", err)
	}
	if err := ping(internal, intCfg(alice)); err != nil {
		t.Fatalf("INTERNAL with an internal client certificate: %v", err)
	}
	if err := ping(internal, intCfg(nil)); err == nil {
		t.Fatal("INTERNAL served a client without a certificate")
	}
	if err := ping(internal, intCfg(outsider)); err == nil {
		t.Fatal("INTERNAL served a client certificate from the public CA")
	}

	next := internalCA.Server(t, "internal-broker-next")
	replace(t, intCert.KeyFile, next.KeyPEM)
	replace(t, intCert.CertFile, next.CertPEM)
	want := next.Cert.SerialNumber.String()
	kafkatest.WaitFor(t, timeout, "INTERNAL's new certificate served", func() bool { return serial(internal, intCfg(alice)) == want })
	if got, want := serial(external, extCfg), extCert.Cert.SerialNumber.String(); got != want {
		t.Fatalf("after INTERNAL's rotation EXTERNAL serves serial %s, want still %s", got, want)
	}
	if err := ping(internal, intCfg(alice)); err != nil {
		t.Fatalf("INTERNAL after rotation: %v", err)
	}
}
