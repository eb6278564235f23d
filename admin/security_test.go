package admin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadCommandConfig: the Java tools' and librdkafka's spellings are read; a key that
// would not take effect, or a combination that cannot connect, is refused with its name.
func TestLoadCommandConfig(t *testing.T) {
	for _, tc := range []struct {
		name, props string
		want        Security
		err         string
	}{
		{"java SCRAM over SASL_SSL", "# c\nsecurity.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location=/ca.pem\nsasl.mechanism=SCRAM-SHA-512\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="al\"ice" password="p w";` + "\n",
			Security{Protocol: "SASL_SSL", CAFile: "/ca.pem", Mechanism: "SCRAM-SHA-512", User: `al"ice`, Password: "p w"}, ""},
		{"librdkafka PLAIN", "security.protocol=sasl_plaintext\nsasl.mechanisms=PLAIN\nsasl.username=bob\nsasl.password=x\n",
			Security{Protocol: "SASL_PLAINTEXT", Mechanism: "PLAIN", User: "bob", Password: "x"}, ""},
		{"SSL", "security.protocol=SSL\nssl.ca.location=/ca.pem\n", Security{Protocol: "SSL", CAFile: "/ca.pem"}, ""},
		{"keystore", "security.protocol=SSL\nssl.keystore.location=/k.jks\n", Security{}, "ssl.keystore.location is not supported"},
		{"JKS truststore", "security.protocol=SSL\nssl.truststore.location=/t.jks\nssl.truststore.type=JKS\n", Security{}, "PEM only"},
		{"GSSAPI", "security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n", Security{}, `sasl.mechanism "GSSAPI"`},
		{"no password", "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=a\n", Security{}, "needs a username and a password"},
		{"SASL without the protocol", "sasl.mechanism=PLAIN\nsasl.username=a\nsasl.password=b\n", Security{}, "need security.protocol SASL_PLAINTEXT or SASL_SSL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "client.properties")
			if err := os.WriteFile(path, []byte(tc.props), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadCommandConfig(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
