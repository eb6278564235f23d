package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/testcerts"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// serve runs a TLS listener with cfg that completes handshakes and closes.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// servedSerial returns the serial number of the certificate the server presents.
func servedSerial(t *testing.T, addr string, ca *testcerts.CA) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("cannot connect: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func replace(t *testing.T, path string, b []byte) {
	t.Helper()
	// Written beside and renamed, as cert-manager and kubelet update mounted secrets.
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestRotationServesNewCertificateWithoutRestart: new files are served to new handshakes;
// a broken new file is logged once and the certificate in use kept.
func TestRotationServesNewCertificateWithoutRestart(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	old := ca.Server(t, "old")
	logs := &logBuf{}
	r, err := New(Files{CertFile: old.CertFile, KeyFile: old.KeyFile}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.Config())
	if got := servedSerial(t, addr, ca); got != old.Cert.SerialNumber.String() {
		t.Fatalf("served serial %s, want the loaded certificate's %s", got, old.Cert.SerialNumber)
	}

	next := ca.Server(t, "next")
	replace(t, old.KeyFile, next.KeyPEM)
	replace(t, old.CertFile, next.CertPEM)
	want := next.Cert.SerialNumber.String()
	deadline := time.Now().Add(15 * time.Second)
	for servedSerial(t, addr, ca) != want {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate is not served 15 s after the files changed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	replace(t, old.CertFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"))
	deadline = time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "cannot reload TLS files") {
		if time.Now().After(deadline) {
			t.Fatal("a broken certificate file was not reported")
		}
		if got := servedSerial(t, addr, ca); got != want {
			t.Fatalf("after a broken file: served %s, want the previous certificate %s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 3 {
		servedSerial(t, addr, ca)
	}
	if n := strings.Count(logs.String(), "cannot reload TLS files"); n != 1 {
		t.Fatalf("broken file reported %d times, want once", n)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	leaf := ca.Client(t, "c", pkix.Name{CommonName: "c"})
	for _, tc := range []struct {
		name string
		f    Files
		want string
	}{
		{"no key", Files{CertFile: leaf.CertFile}, "--ssl-key-file"},
		{"bad client auth", Files{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile, ClientAuth: "maybe"}, `--ssl-client-auth must be none, requested or required (set to "maybe")`},
		{"mtls without CA", Files{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile, ClientAuth: "required"}, "--ssl-ca-file"},
		{"key of another cert", Files{CertFile: leaf.CertFile, KeyFile: ca.Server(t, "s").KeyFile}, "cannot load certificate"},
		{"missing file", Files{CertFile: leaf.CertFile + ".none", KeyFile: leaf.KeyFile}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.f, slog.Default())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
