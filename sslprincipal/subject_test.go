package sslprincipal

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// subjectCases are subjects and how X500Principal.getName() writes them, as the JDK of the
// test dependencies printed them (tests/oracle compares Subject with Java on these too).
func subjectCases() []struct {
	Subject pkix.RDNSequence
	Want    string
} {
	atv := func(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	cn, ou, o, c := asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.ObjectIdentifier{2, 5, 4, 11}, asn1.ObjectIdentifier{2, 5, 4, 10}, asn1.ObjectIdentifier{2, 5, 4, 6}
	dc, uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	email, serial := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.ObjectIdentifier{2, 5, 4, 5}
	return []struct {
		Subject pkix.RDNSequence
		Want    string
	}{
		{pkix.RDNSequence{{atv(o, "Acme")}, {atv(ou, "Eng")}, {atv(cn, "alice")}}, "CN=alice,OU=Eng,O=Acme"},
		{pkix.RDNSequence{{atv(dc, "com")}, {atv(dc, "example")}, {atv(uid, "jdoe")}, {atv(cn, "John Doe")}}, "CN=John Doe,UID=jdoe,DC=example,DC=com"},
		{pkix.RDNSequence{{atv(c, "US")}, {atv(email, "a@b.c")}, {atv(cn, "x")}}, "CN=x,1.2.840.113549.1.9.1=#0c056140622e63,C=US"},
		{pkix.RDNSequence{{atv(serial, "1234")}, {atv(cn, "weird,=+<>#;\"\\ chars")}}, `CN=weird\,\=\+\<\>\#\;\"\\ chars,2.5.4.5=#130431323334`},
		{pkix.RDNSequence{{atv(cn, " lead")}, {atv(cn, "trail ")}, {atv(cn, "#hash")}, {atv(cn, "mid#x=y")}}, `CN=mid\#x\=y,CN=\#hash,CN=trail\ ,CN=\ lead`},
		{pkix.RDNSequence{{atv(o, "Acme"), atv(ou, "Eng")}, {atv(cn, "multi")}}, "CN=multi,OU=Eng+O=Acme"},
		{pkix.RDNSequence{{atv(cn, "ünï")}}, "CN=ünï"},
		{pkix.RDNSequence{{atv(cn, "tab\there")}}, "CN=tab\there"},
	}
}

func TestSubjectAsJava(t *testing.T) {
	for _, c := range subjectCases() {
		raw, err := asn1.Marshal(c.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Subject(raw); err != nil || got != c.Want {
			t.Errorf("Subject(%v) = %q, %v; want %q", c.Subject, got, err, c.Want)
		}
	}
	if _, err := Subject([]byte{0x30, 0x03, 0x01}); err == nil {
		t.Error("Subject of bad DER: no error")
	}
}
