package netio

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// TestMTLSPrincipalIsKafkasSubject: the principal is the subject as Kafka writes it
// (X500Principal's RFC 2253: DC by name, the last RDN first), not Go's pkix.Name.String
// (which writes DC as an OID and hex).
func TestMTLSPrincipalIsKafkasSubject(t *testing.T) {
	h := &recorder{serveFn: echo}
	s, _, ca := tlsServer(t, h, func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert })
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	cl := ca.Client(t, "jdoe", pkix.Name{CommonName: "jdoe", ExtraNames: []pkix.AttributeTypeAndValue{{Type: dc, Value: "example"}}})
	c := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cl.TLS}})
	c.send("x")
	c.expect("x")
	if p, want := h.request(0).Conn.Principal(), "User:DC=example,CN=jdoe"; p != want {
		t.Fatalf("principal %q, want %q", p, want)
	}
}
