// Package tls tests the broker's named listeners and TLS with real clients: franz-go
// (TLS and mTLS), kcat (librdkafka, security.protocol=ssl) and Apache Kafka's Java client
// (security.protocol=SSL with a PEM truststore), against one `kafscale dev` with an
// INTERNAL PLAINTEXT and an EXTERNAL SSL listener.
package tls

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testcerts"
)

// timeout bounds each client's run.
const timeout = 60 * time.Second

// tlsBroker is a `kafscale dev` with two listeners.
type tlsBroker struct {
	p *testbroker.Process
	// internal is the PLAINTEXT listener's address, advertised as 127.0.0.1:port;
	// external the SSL one's, advertised as localhost:port (the certificate's name).
	internal, external string
	ca                 *testcerts.CA
	cert               *testcerts.Leaf
}

func startTLSBroker(t *testing.T) *tlsBroker {
	t.Helper()
	ca := testcerts.NewCA(t, "kafscale-test-ca")
	cert := ca.Server(t, "broker")
	in, ex := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	_, exPort, _ := net.SplitHostPort(ex)
	p := testbroker.Start(t,
		"--listeners", "INTERNAL://"+in+",EXTERNAL://"+ex,
		"--advertised-listeners", "INTERNAL://"+in+",EXTERNAL://localhost:"+exPort,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,EXTERNAL:SSL",
		"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile,
		"--ssl-ca-file", ca.CertFile, "--ssl-client-auth", "requested")
	return &tlsBroker{p: p, internal: in, external: "localhost:" + exPort, ca: ca, cert: cert}
}

func (b *tlsBroker) tlsConfig(client *testcerts.Leaf) *tls.Config {
	cfg := &tls.Config{RootCAs: b.ca.Pool(), ServerName: "localhost"}
	if client != nil {
		cfg.Certificates = []tls.Certificate{client.TLS}
	}
	return cfg
}

func newClient(t *testing.T, seed string, tcfg *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(seed), kgo.RequestRetries(2)}, opts...)
	if tcfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tcfg))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	req := kmsg.NewCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("cannot create topic %s: %v %+v", topic, err, resp)
	}
}

// produceConsume writes n records with cl and reads them back.
func produceConsume(t *testing.T, cl *kgo.Client, seed string, tcfg *tls.Config, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i := range n {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("v%d", i))).FirstErr(); err != nil {
			t.Fatalf("cannot produce: %v", err)
		}
	}
	cons := newClient(t, seed, tcfg, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%d", got); string(r.Value) != want {
				t.Fatalf("record %d: %q, want %q", got, r.Value, want)
			}
			got++
		})
	}
}

// TestTwoListeners runs every client against one broker with an INTERNAL PLAINTEXT and an
// EXTERNAL SSL listener (one broker start for all: each costs seconds).
func TestTwoListeners(t *testing.T) {
	b := startTLSBroker(t)
	t.Run("MetadataAnswersWithTheClientsListener", func(t *testing.T) { testMetadataPerListener(t, b) })
	t.Run("FranzGoOverTLS", func(t *testing.T) {
		topic := "franz-tls"
		cl := newClient(t, b.external, b.tlsConfig(nil), kgo.DefaultProduceTopic(topic))
		createTopic(t, cl, topic)
		produceConsume(t, cl, b.external, b.tlsConfig(nil), topic, 50)
	})
	t.Run("FranzGoOverMTLS", func(t *testing.T) {
		topic := "franz-mtls"
		client := b.ca.Client(t, "alice", pkix.Name{CommonName: "alice", Organization: []string{"Acme"}})
		cl := newClient(t, b.external, b.tlsConfig(client), kgo.DefaultProduceTopic(topic))
		createTopic(t, cl, topic)
		produceConsume(t, cl, b.external, b.tlsConfig(client), topic, 50)
	})
	t.Run("KcatOverSSL", func(t *testing.T) { testKcat(t, b) })
	t.Run("JavaClientOverSSL", func(t *testing.T) { testJava(t, b) })
	t.Run("PlaintextClientOnTLSPortIsClosedAndLoggedOnce", func(t *testing.T) { testPlaintextOnTLS(t, b) })
	t.Run("TLSClientOnPlaintextPortFails", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", b.internal, b.tlsConfig(nil))
		if err == nil {
			conn.Close()
			t.Fatal("TLS handshake with the PLAINTEXT listener succeeded")
		}
		cl := newClient(t, b.internal, nil)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := cl.Ping(ctx); err != nil {
			t.Fatalf("PLAINTEXT listener after a TLS client: %v", err)
		}
	})
	// Last: it changes the broker's certificate.
	t.Run("CertificateRotationWithoutRestart", func(t *testing.T) { testRotation(t, b) })
}

func testMetadataPerListener(t *testing.T, b *tlsBroker) {
	for _, tc := range []struct {
		name, seed, want string
		tls              bool
	}{
		{"INTERNAL", b.internal, b.internal, false},
		{"EXTERNAL", b.external, b.external, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tcfg *tls.Config
			if tc.tls {
				tcfg = b.tlsConfig(nil)
			}
			cl := newClient(t, tc.seed, tcfg)
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if got := hostPort(md.Brokers[0].Host, md.Brokers[0].Port); len(md.Brokers) != 1 || got != tc.want {
				t.Errorf("Metadata brokers %+v, want the one at %s", md.Brokers, tc.want)
			}
			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"}
			fr, err := fc.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if c := fr.Coordinators[0]; c.ErrorCode != 0 || hostPort(c.Host, c.Port) != tc.want {
				t.Errorf("FindCoordinator %+v, want %s", c, tc.want)
			}
			dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if got := hostPort(dc.Brokers[0].Host, dc.Brokers[0].Port); got != tc.want {
				t.Errorf("DescribeCluster broker at %s, want %s", got, tc.want)
			}
		})
	}
}

func hostPort(h string, p int32) string { return net.JoinHostPort(h, strconv.Itoa(int(p))) }

func testKcat(t *testing.T, b *tlsBroker) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("cannot find kcat: %v; run scripts/test-deps.sh", err)
	}
	topic := "kcat-ssl"
	createTopic(t, newClient(t, b.internal, nil), topic)
	ssl := []string{"-b", b.external, "-q", "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + b.ca.CertFile}
	run(t, "a\nb\nc\n", kcat, append(ssl, "-P", "-t", topic)...)
	out := run(t, "", kcat, append(ssl, "-C", "-t", topic, "-o", "beginning", "-e")...)
	if strings.Fields(out)[0] != "a" || len(strings.Fields(out)) != 3 {
		t.Fatalf("kcat read %q, want a b c", out)
	}
}

func testJava(t *testing.T, b *tlsBroker) {
	topic := "java-ssl"
	createTopic(t, newClient(t, b.internal, nil), topic)
	props := []string{"security.protocol=SSL", "ssl.truststore.type=PEM", "ssl.truststore.location=" + b.ca.CertFile}
	var pargs, cargs []string
	for _, p := range props {
		pargs = append(pargs, "--command-property", p)
		cargs = append(cargs, "--command-property", p)
	}
	runCmd(t, "one\ntwo\n", jvm.KafkaCommand(t, "kafka-console-producer",
		append([]string{"--bootstrap-server", b.external, "--topic", topic}, pargs...)...))
	out := runCmd(t, "", jvm.KafkaCommand(t, "kafka-console-consumer",
		append([]string{"--bootstrap-server", b.external, "--topic", topic, "--from-beginning", "--max-messages", "2", "--timeout-ms", "30000"}, cargs...)...))
	if got := strings.Fields(out); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("Java consumer read %q, want one two", out)
	}
}

func testPlaintextOnTLS(t *testing.T, b *tlsBroker) {
	before := strings.Count(b.p.LogTail(1<<20), "TLS handshake failed")
	conn, err := net.DialTimeout("tcp", b.external, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// An ApiVersions v0 request, as a plaintext Kafka client starts.
	req := []byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0}
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err == nil && n > 0 && buf[0] != 0x15 { // a TLS alert record is a clean refusal
		t.Fatalf("a plaintext client on the TLS port got %x", buf[:n])
	}
	kafkatest.WaitFor(t, timeout, "the handshake failure logged", func() bool {
		return strings.Count(b.p.LogTail(1<<20), "TLS handshake failed") > before
	})
	if n := strings.Count(b.p.LogTail(1<<20), "TLS handshake failed") - before; n != 1 {
		t.Fatalf("one bad connection logged %d times", n)
	}
	if !b.p.Running() {
		t.Fatal("broker exited")
	}
}

func testRotation(t *testing.T, b *tlsBroker) {
	serial := func() string {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", b.external, b.tlsConfig(nil))
		if err != nil {
			t.Fatalf("cannot connect: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != b.cert.Cert.SerialNumber.String() {
		t.Fatalf("served serial %s, want %s", got, b.cert.Cert.SerialNumber)
	}
	next := b.ca.Server(t, "broker-next")
	replace(t, b.cert.KeyFile, next.KeyPEM)
	replace(t, b.cert.CertFile, next.CertPEM)
	want := next.Cert.SerialNumber.String()
	kafkatest.WaitFor(t, timeout, "the new certificate served", func() bool { return serial() == want })
	// The new certificate serves clients as the old one did.
	cl := newClient(t, b.external, b.tlsConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("client after rotation: %v", err)
	}
}

func replace(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	return runCmd(t, stdin, exec.Command(name, args...))
}

func runCmd(t *testing.T, stdin string, cmd *exec.Cmd) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", cmd.Path, err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", cmd.Path, strings.Join(cmd.Args[1:], " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// TestSASLListenerWithoutMechanismsRefusedAtStart: a SASL listener without
// --sasl-enabled-mechanisms is refused at start with a message naming the flag, not
// served as something else (tests/sasl serves SASL).
func TestSASLListenerWithoutMechanismsRefusedAtStart(t *testing.T) {
	for _, proto := range []string{"SASL_SSL", "SASL_PLAINTEXT"} {
		p := testbroker.Launch(t, "--listeners", "INTERNAL://"+kafkatest.FreeAddr(t)+",OUTSIDE://"+kafkatest.FreeAddr(t),
			"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,OUTSIDE:"+proto)
		code, out := p.WaitRefused(timeout)
		if code == 0 || !strings.Contains(out, "a SASL listener needs --sasl-enabled-mechanisms") {
			t.Fatalf("%s: exit %d, output:\n%s", proto, code, out)
		}
	}
}
