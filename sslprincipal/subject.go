package sslprincipal

import (
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// rfc2253Keywords are the attribute names javax.security.auth.x500.X500Principal's
// getName() (RFC 2253 form) writes; every other attribute is written as its OID and the
// hex of its DER value.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
}

type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// attributeSET is one relative distinguished name (encoding/asn1 reads a type named
// ...SET as a SET OF).
type attributeSET []attribute

// Subject writes a certificate's subject (its raw DER, x509.Certificate.RawSubject) as
// Kafka's default principal builder sees it: X500Principal.getName(), RFC 2253, the last
// RDN first, the attributes of a multi-valued RDN joined by + in their encoded order,
// CN, C, L, ST, STREET, O, OU, UID and DC by name and others by OID, a value that is not
// a string or of another attribute as # and the hex of its DER, and
// ,=+<>#;"\ and leading and trailing spaces escaped with a backslash. Go's
// pkix.Name.String differs (it names SERIALNUMBER, writes DC and UID as hex, reorders
// attributes and keeps one CN), so the principal and the input of the mapping rules are
// computed here.
func Subject(raw []byte) (string, error) {
	var rdns []attributeSET
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil {
		return "", fmt.Errorf("cannot parse certificate subject: %w", err)
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("cannot parse certificate subject: %d bytes after it", len(rest))
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, a := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			name, known := rfc2253Keywords[a.Type.String()]
			if !known {
				name = a.Type.String()
			}
			b.WriteString(name)
			b.WriteByte('=')
			if value, isString := derString(a.Value); known && isString {
				b.WriteString(escapeRFC2253(value))
			} else {
				b.WriteByte('#')
				b.WriteString(hex.EncodeToString(a.Value.FullBytes))
			}
		}
	}
	return b.String(), nil
}

// derString decodes the string types Java writes as strings (PrintableString, T61String,
// IA5String, GeneralString, BMPString, UTF8String), as Java's X500Principal does: their
// bytes read as UTF-8 whatever the type, each byte that is not UTF-8 a U+FFFD.
func derString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagPrintableString, asn1.TagT61String, asn1.TagIA5String, asn1.TagGeneralString, asn1.TagBMPString, asn1.TagUTF8String:
	default:
		return "", false
	}
	var b strings.Builder
	for p := v.Bytes; len(p) > 0; {
		r, w := utf8.DecodeRune(p)
		b.WriteRune(r) // utf8.RuneError for a byte that is not UTF-8
		p = p[w:]
	}
	return b.String(), true
}

// escapeRFC2253 escapes as Java's AVA.toRFC2253String: a backslash before each of
// ,=+<>#;"\ wherever it is, NUL as \00, and before each leading and trailing space or CR.
func escapeRFC2253(v string) string {
	var b strings.Builder
	for _, c := range v {
		switch {
		case strings.ContainsRune(`,=+<>#;"\`, c):
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == 0:
			b.WriteString(`\00`)
		default:
			b.WriteRune(c)
		}
	}
	s := []rune(b.String())
	lead := 0
	for lead < len(s) && (s[lead] == ' ' || s[lead] == '\r') {
		lead++
	}
	trail := len(s) - 1
	for trail >= 0 && (s[trail] == ' ' || s[trail] == '\r') {
		trail--
	}
	var out strings.Builder
	for i, c := range s {
		if i < lead || i > trail {
			out.WriteByte('\\')
		}
		out.WriteRune(c)
	}
	return out.String()
}
