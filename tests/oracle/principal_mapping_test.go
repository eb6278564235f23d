package oracle

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/sslprincipal"
)

// TestSamePrincipalMappingAsKafka: Kafka's own SslPrincipalMapper (kafka-clients, run by
// principalmapper/PrincipalMapperOracle.java) and sslprincipal map every subject of the
// list under every rule list alike: the same name, the same "no rule applies", the same
// rule lists refused. One documented difference: a replacement Java fails to expand when
// a certificate matches is refused by sslprincipal.Parse at start.
func TestSamePrincipalMappingAsKafka(t *testing.T) {
	ruleLists := []string{
		"DEFAULT",
		"",
		", ,",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
		"RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
		"RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
		"RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,DEFAULT",
		`RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`,
		"default", "DEFAUL", "DEFAULT/L", "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
		"rule:^CN=(.*?),OU=ServiceUsers.*$/$1/", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
		"RULE:(.*)/$1@X/",
		"RULE:a*/X/",
		"RULE:(a*)(b?)/[$1|$2]/",
		"RULE:^CN=(.*?),.*$/$5x/",
		"RULE:^CN=(.*?),.*$/$12/",
		"RULE:^CN=(?<user>[^,]*),.*$/${user}/U",
		`RULE:CN=(.*?),.*/\$$1\\/`,
		"RULE:^CN=([^,]+),OU=Eng,O=Acme$/$1/L",
		"RULE:^CN=([^,]+),OU=Eng,O=Acme$/$1/L,DEFAULT",
		"RULE:^CN=(.*?),.*$/$5@$6/",
	}
	subjects := []string{
		"CN=Duke,OU=ServiceUsers,O=Org,C=US",
		"CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US",
		"cn=duke,ou=sme,dc=mycp,dc=com",
		"cN=duke,OU=JavaSoft,O=Sun Microsystems",
		"OU=JavaSoft,O=Sun Microsystems,C=US",
		`CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`,
		"CN=Alice,OU=Eng,O=Acme",
		"CN=alice,OU=Sales,O=Acme",
		"a", "aab", "aaa", "",
	}
	var in strings.Builder
	type pair struct{ rules, subject string }
	var pairs []pair
	for _, r := range ruleLists {
		for _, s := range subjects {
			pairs = append(pairs, pair{r, s})
			in.WriteString(r + "\t" + s + "\n")
		}
	}
	cp := jvm.Compile(t, "principalmapper", jvm.Deps(t, "clients-"+jvm.KafkaVersion))
	cmd := jvm.Command(t, cp, "PrincipalMapperOracle")
	cmd.Stdin = strings.NewReader(in.String())
	stdout, stderr := jvm.Run(t, cmd, 2*time.Minute)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(pairs) {
		t.Fatalf("Kafka answered %d of %d cases; stderr:\n%s", len(lines), len(pairs), stderr)
	}
	// refusedAtStart are rule lists whose replacement Java cannot expand.
	refusedAtStart := map[string]bool{"RULE:^CN=(.*?),.*$/$5@$6/": true}
	kafkaFails := map[string]bool{}
	for i, p := range pairs {
		kafka := lines[i]
		var ours string
		m, err := sslprincipal.Parse(p.rules)
		switch {
		case err != nil:
			ours = "parse"
		default:
			name, err := m.Name(p.subject)
			switch {
			case errors.Is(err, sslprincipal.ErrNoMatchingRule):
				ours = "nomatch"
			case err != nil:
				ours = "error " + err.Error()
			default:
				ours = "ok\t" + name
			}
		}
		if refusedAtStart[p.rules] && ours == "parse" {
			// Refused at start here, at each matching handshake in Kafka.
			kafkaFails[p.rules] = kafkaFails[p.rules] || strings.HasPrefix(kafka, "apply\t")
			continue
		}
		if kafka != ours {
			t.Errorf("rules %q, subject %q: Kafka %q, KafScale %q", p.rules, p.subject, kafka, ours)
		}
	}
	for r := range refusedAtStart {
		if !kafkaFails[r] {
			t.Errorf("rules %q: refused at start here, but Kafka failed no handshake with them", r)
		}
	}
}

// TestSameCertificateSubjectAsKafka: sslprincipal.Subject writes certificate subjects as
// Java's X500Principal.getName() does (what Kafka's principal builder and mapping rules
// see): attribute names, order, multi-valued RDNs, hex for other attributes, escapes.
func TestSameCertificateSubjectAsKafka(t *testing.T) {
	atv := func(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	cn, ou, o, c := asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.ObjectIdentifier{2, 5, 4, 11}, asn1.ObjectIdentifier{2, 5, 4, 10}, asn1.ObjectIdentifier{2, 5, 4, 6}
	l, st, street := asn1.ObjectIdentifier{2, 5, 4, 7}, asn1.ObjectIdentifier{2, 5, 4, 8}, asn1.ObjectIdentifier{2, 5, 4, 9}
	dc, uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	email, serial := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.ObjectIdentifier{2, 5, 4, 5}
	ia5 := func(s string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(s)} }
	t61 := func(s string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagT61String, Bytes: []byte(s)} }
	bmp := asn1.RawValue{Tag: asn1.TagBMPString, Bytes: []byte{0, 'h', 0, 'i', 0x00, 0xfc}}
	subjects := []pkix.RDNSequence{
		{{atv(o, "Acme")}, {atv(ou, "Eng")}, {atv(cn, "alice")}},
		{{atv(c, "US")}, {atv(st, "MD")}, {atv(l, "Fulton")}, {atv(street, "1 Main St")}, {atv(o, "mycp")}, {atv(ou, "SME")}, {atv(cn, "Duke")}},
		{{atv(dc, ia5("com"))}, {atv(dc, ia5("example"))}, {atv(uid, "jdoe")}, {atv(cn, "John Doe")}},
		{{atv(c, "US")}, {atv(email, ia5("a@b.c"))}, {atv(cn, "x")}},
		{{atv(serial, "1234")}, {atv(cn, "weird,=+<>#;\"\\ chars")}},
		{{atv(cn, " lead")}, {atv(cn, "trail ")}, {atv(cn, "#hash")}, {atv(cn, "mid#x=y")}, {atv(cn, "  ")}},
		{{atv(o, "Acme"), atv(ou, "Eng")}, {atv(cn, "multi")}},
		{{atv(cn, "ünï")}, {atv(o, t61("t61\xe9"))}, {atv(ou, bmp)}},
		{{atv(cn, "tab\there")}},
		{{atv(cn, asn1.RawValue{Tag: asn1.TagInteger, Bytes: []byte{5}})}},
		{{atv(cn, asn1.RawValue{Tag: 26, Bytes: []byte("visible")})}, {atv(o, asn1.RawValue{Tag: 28, Bytes: []byte{0, 0, 0, 'u'}})}},
		{{atv(cn, asn1.RawValue{Tag: asn1.TagGeneralString, Bytes: []byte("general\x00nul")})}},
	}
	var in strings.Builder
	for _, s := range subjects {
		raw, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		in.WriteString(hex.EncodeToString(raw) + "\n")
	}
	cp := jvm.Compile(t, "principalmapper", jvm.Deps(t, "clients-"+jvm.KafkaVersion))
	cmd := jvm.Command(t, cp, "SubjectOracle")
	cmd.Stdin = strings.NewReader(in.String())
	stdout, stderr := jvm.Run(t, cmd, 2*time.Minute)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(subjects) {
		t.Fatalf("Java answered %d of %d subjects; stderr:\n%s", len(lines), len(subjects), stderr)
	}
	for i, s := range subjects {
		raw, _ := asn1.Marshal(s)
		got, err := sslprincipal.Subject(raw)
		if err != nil || got != lines[i] {
			t.Errorf("subject %v: Java %q, KafScale %q (%v)", s, lines[i], got, err)
		}
	}
}
