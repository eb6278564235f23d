package main

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/kafscale/kafscale/internal/testcerts"
)

// TestListenerFlagsRefuseBadSettings: each bad listener setting stops the start with an
// error that names it.
func TestListenerFlagsRefuseBadSettings(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	cert := ca.Server(t, "broker")
	tlsArgs := []string{"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listeners", "A:9092"}, "--listeners entries must be NAME://host:port"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,PLAINTEXT://127.0.0.1:9094"}, "names listener PLAINTEXT twice"},
		{[]string{"--listeners", "IN://127.0.0.1:9092"}, "no protocol for listener IN"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT"}, "a SASL listener needs --sasl-enabled-mechanisms"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "GSSAPI"}, `unknown mechanism "GSSAPI"`},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "PLAIN"}, "PLAIN needs --sasl-plain-users-file"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "SCRAM-SHA-256", "--sasl-plain-users-file", "/x"}, "does not enable PLAIN"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "SCRAM-SHA-256", "--connections-max-reauth-ms", "-1"}, "--connections-max-reauth-ms must be >=0"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_SSL", "--sasl-enabled-mechanisms", "SCRAM-SHA-256"}, "needs --ssl-cert-file"},
		{[]string{"--listeners", "S://127.0.0.1:9093,IN://127.0.0.1:9092", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "SCRAM-SHA-256"}, "the inter-broker listener S must be PLAINTEXT"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "OAUTHBEARER"}, "OAUTHBEARER needs --sasl-oauthbearer-jwks-file or --sasl-oauthbearer-jwks-endpoint-url"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "OAUTHBEARER", "--sasl-oauthbearer-jwks-file", "/x", "--sasl-oauthbearer-jwks-endpoint-url", "https://idp/jwks"}, "not both"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "SCRAM-SHA-512", "--sasl-oauthbearer-expected-audience", "kafka"}, "does not enable OAUTHBEARER"},
		{[]string{"--listeners", "IN://127.0.0.1:9092,S://127.0.0.1:9093", "--listener-security-protocol-map", "IN:PLAINTEXT,S:SASL_PLAINTEXT", "--sasl-enabled-mechanisms", "OAUTHBEARER", "--sasl-oauthbearer-jwks-file", "/x", "--sasl-oauthbearer-clock-skew-seconds", "-1"}, "--sasl-oauthbearer-clock-skew-seconds must be >=0"},
		{[]string{"--sasl-oauthbearer-jwks-file", "/x"}, "--sasl-oauthbearer-jwks-file and --sasl-oauthbearer-jwks-endpoint-url need a SASL_PLAINTEXT or SASL_SSL listener"},
		{[]string{"--sasl-enabled-mechanisms", "PLAIN"}, "--sasl-enabled-mechanisms needs a SASL_PLAINTEXT or SASL_SSL listener"},
		{[]string{"--connections-max-reauth-ms", "1000"}, "--connections-max-reauth-ms needs a SASL_PLAINTEXT or SASL_SSL listener"},
		{[]string{"--listeners", "IN://127.0.0.1:9092", "--listener-security-protocol-map", "IN:PLAINTEXT", "--sasl-plain-users-file", "/x"}, "--sasl-plain-users-file needs a SASL_PLAINTEXT or SASL_SSL listener"},
		{[]string{"--listeners", "IN://127.0.0.1:9092", "--listener-security-protocol-map", "IN:QUIC"}, `unknown security protocol "QUIC"`},
		{[]string{"--listeners", "IN://0.0.0.0:9092", "--listener-security-protocol-map", "IN:PLAINTEXT"}, "--advertised-listeners must give listener IN a host"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:9092", "--advertised-listeners", "OTHER://h:1"}, "names listener OTHER, which --listeners does not have"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:9092", "--listen", "127.0.0.1:9000"}, "--listeners replaces --listen"},
		{[]string{"--advertised-listeners", "PLAINTEXT://h:1"}, "--advertised-listeners needs --listeners"},
		{[]string{"--listeners", "SSL://127.0.0.1:9093"}, "an SSL listener needs --ssl-cert-file and --ssl-key-file"},
		{append([]string{"--listeners", "SSL://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092"}, tlsArgs...), "the inter-broker listener SSL must be PLAINTEXT"},
		{append([]string{"--listeners", "SSL://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092", "--inter-broker-listener-name", "X"}, tlsArgs...), "--inter-broker-listener-name X is not one of --listeners"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--ssl-client-auth", "required"}, tlsArgs...), "--ssl-client-auth=required needs --ssl-ca-file"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--ssl-client-auth", "want"}, tlsArgs...), `--ssl-client-auth must be none, requested or required (set to "want")`},
		{[]string{"--ssl-principal-mapping-rules", "RULE:^CN=([^,]*),.*$/$1/"}, "--ssl-principal-mapping-rules needs an SSL listener that asks for client certificates"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--ssl-principal-mapping-rules", "RULE:^CN=([^,]*),.*$/$1/"}, tlsArgs...), "--ssl-principal-mapping-rules needs an SSL listener that asks for client certificates"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--ssl-client-auth", "required", "--ssl-ca-file", ca.CertFile, "--ssl-principal-mapping-rules", "RULE:^CN=(.*),.*$/$1"}, tlsArgs...), "--ssl-principal-mapping-rules: invalid rule"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--ssl-client-auth", "required", "--ssl-ca-file", ca.CertFile, "--ssl-principal-mapping-rules", "RULE:^CN=(.*),.*$/$5@$6/"}, tlsArgs...), "no group 6"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--ssl-client-auth", "required", "--ssl-ca-file", ca.CertFile, "--ssl-principal-mapping-rules", " , ,"}, tlsArgs...), "--ssl-principal-mapping-rules has no rule"},
		{[]string{"--listener-ssl", "SSL:cert=/x"}, "--listener-ssl needs --listeners"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "OTHER:cert=/x"}, tlsArgs...), "--listener-ssl names listener OTHER, which --listeners does not have"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "PLAINTEXT:cert=/x"}, tlsArgs...), "--listener-ssl names listener PLAINTEXT, which is PLAINTEXT"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "SSL:cert=/x;SSL:key=/y"}, tlsArgs...), "--listener-ssl names listener SSL twice"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "SSL:certfile=/x"}, tlsArgs...), `--listener-ssl SSL: "certfile=/x" is not cert=FILE`},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "SSL:cert=/x,cert=/y"}, tlsArgs...), "--listener-ssl SSL: cert given twice"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "SSL:ca="}, tlsArgs...), "--listener-ssl SSL: ca is empty"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "cert=/x"}, tlsArgs...), "--listener-ssl entries must be NAME:key=value"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "SSL:client-auth=required"}, tlsArgs...), "listener SSL (--listener-ssl, with --ssl-* for keys it does not give): --ssl-client-auth=required needs --ssl-ca-file"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,A://127.0.0.1:9093,B://127.0.0.1:9094", "--listener-security-protocol-map", "PLAINTEXT:PLAINTEXT,A:SSL,B:SSL", "--listener-ssl", "A:cert=" + cert.CertFile + ",key=" + cert.KeyFile}, "an SSL listener needs --ssl-cert-file and --ssl-key-file"},
		{append([]string{"--listeners", "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "--listener-ssl", "SSL:client-auth=none", "--ssl-client-auth", "required", "--ssl-ca-file", ca.CertFile, "--ssl-principal-mapping-rules", "RULE:^CN=([^,]*)$/$1/"}, tlsArgs...), "--ssl-principal-mapping-rules needs an SSL listener that asks for client certificates"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cfg := defaultDevConfig()
			_, err := parseFlags(devFlags(&cfg), tc.args, cfg.finish)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestListenersMapToNetioAndRegistration: the first PLAINTEXT listener is gnet's, the
// others are netio's further listeners, every one is advertised, and the inter-broker
// listener's address is the registration's host:port.
func TestListenersMapToNetioAndRegistration(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	cert := ca.Server(t, "broker")
	cfg := defaultDevConfig()
	args := []string{"--listeners", "EXTERNAL://0.0.0.0:9094,INTERNAL://127.0.0.1:9092,REPL://127.0.0.1:9095",
		"--advertised-listeners", "EXTERNAL://kafka.example.com:443",
		"--listener-security-protocol-map", "EXTERNAL:SSL,INTERNAL:PLAINTEXT,REPL:PLAINTEXT",
		"--inter-broker-listener-name", "repl",
		"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile}
	if _, err := parseFlags(devFlags(&cfg), args, cfg.finish); err != nil {
		t.Fatal(err)
	}
	if cfg.Net.Listen != "127.0.0.1:9092" || cfg.Net.ListenerName != "INTERNAL" {
		t.Errorf("gnet listener %s %s, want INTERNAL 127.0.0.1:9092", cfg.Net.ListenerName, cfg.Net.Listen)
	}
	var further []string
	for _, l := range cfg.Net.Listeners {
		further = append(further, l.Name+"="+l.Addr)
	}
	if got := strings.Join(further, ","); got != "EXTERNAL=0.0.0.0:9094,REPL=127.0.0.1:9095" {
		t.Errorf("further listeners %s", got)
	}
	var adv []string
	for _, l := range cfg.Broker.Listeners {
		adv = append(adv, l.GetName()+"="+net.JoinHostPort(l.GetHost(), strconv.Itoa(int(l.GetPort()))))
	}
	if got := strings.Join(adv, ","); got != "EXTERNAL=kafka.example.com:443,INTERNAL=127.0.0.1:9092,REPL=127.0.0.1:9095" {
		t.Errorf("advertised %s", got)
	}
	if cfg.Broker.AdvertisedHost != "127.0.0.1" || cfg.Broker.AdvertisedPort != 9095 {
		t.Errorf("registration %s:%d, want the inter-broker listener REPL", cfg.Broker.AdvertisedHost, cfg.Broker.AdvertisedPort)
	}
}

// TestListenerSSLOverridesKeyByKey: --listener-ssl replaces the --ssl-* settings it
// names for its listener only, and a listener given all its files there needs no --ssl-*.
func TestListenerSSLOverridesKeyByKey(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pub, in := ca.Server(t, "public"), ca.Server(t, "internal")
	cfg := defaultDevConfig()
	args := []string{"--listeners", "PLAINTEXT://127.0.0.1:9092,A://127.0.0.1:9093,B://127.0.0.1:9094",
		"--listener-security-protocol-map", "PLAINTEXT:PLAINTEXT,A:SSL,B:SASL_SSL",
		"--sasl-enabled-mechanisms", "SCRAM-SHA-256",
		"--ssl-cert-file", pub.CertFile, "--ssl-key-file", pub.KeyFile,
		"--listener-ssl", " a:cert=" + in.CertFile + ",key=" + in.KeyFile + ",ca=" + ca.CertFile + ",client-auth=required ; B:ca=" + ca.CertFile}
	if _, err := parseFlags(devFlags(&cfg), args, cfg.finish); err != nil {
		t.Fatal(err)
	}
	a, b := cfg.tlsFiles["A"], cfg.tlsFiles["B"]
	if a.CertFile != in.CertFile || a.KeyFile != in.KeyFile || a.CAFile != ca.CertFile || a.ClientAuth != "required" {
		t.Errorf("A's files %+v", a)
	}
	if b.CertFile != pub.CertFile || b.KeyFile != pub.KeyFile || b.CAFile != ca.CertFile || b.ClientAuth != "none" {
		t.Errorf("B's files %+v", b)
	}

	cfg = defaultDevConfig()
	args = []string{"--listeners", "PLAINTEXT://127.0.0.1:9092,A://127.0.0.1:9093",
		"--listener-security-protocol-map", "PLAINTEXT:PLAINTEXT,A:SSL",
		"--listener-ssl", "A:cert=" + in.CertFile + ",key=" + in.KeyFile}
	if _, err := parseFlags(devFlags(&cfg), args, cfg.finish); err != nil {
		t.Fatalf("a listener with all its files from --listener-ssl: %v", err)
	}
}
