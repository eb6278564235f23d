// Package tlsfiles builds a listener's TLS settings from PEM files (certificate chain,
// private key, and the CA bundle client certificates are checked against) and reloads
// them without a restart: each handshake looks at the files' modification times (a stat
// per file, at most once a second), and a change is loaded for the handshakes that follow.
// A new file that does not load (half written, a key that does not match) is logged and
// the previous certificate kept.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Client authentication modes, as Kafka's ssl.client.auth.
const (
	ClientAuthNone      = "none"
	ClientAuthRequested = "requested"
	ClientAuthRequired  = "required"
)

// checkInterval spaces the looks at the files' modification times.
const checkInterval = time.Second

// Files names the PEM files of a TLS listener.
type Files struct {
	// CertFile holds the certificate chain, the broker's own first.
	CertFile string
	// KeyFile holds the certificate's private key (PKCS #1, PKCS #8 or EC).
	KeyFile string
	// CAFile holds the CAs client certificates must chain to; needed unless ClientAuth is
	// none.
	CAFile string
	// ClientAuth is none, requested or required (ssl.client.auth).
	ClientAuth string
}

// Validate names the first bad setting; flag is the flag prefix the user typed.
func (f Files) Validate(flag string) error {
	switch {
	case f.CertFile == "" || f.KeyFile == "":
		return fmt.Errorf("an SSL listener needs --%scert-file and --%skey-file", flag, flag)
	case f.ClientAuth != ClientAuthNone && f.ClientAuth != ClientAuthRequested && f.ClientAuth != ClientAuthRequired:
		return fmt.Errorf("--%sclient-auth must be none, requested or required (set to %q)", flag, f.ClientAuth)
	case f.ClientAuth != ClientAuthNone && f.CAFile == "":
		return fmt.Errorf("--%sclient-auth=%s needs --%sca-file to check client certificates against", flag, f.ClientAuth, flag)
	}
	return nil
}

// Reloader serves the current TLS configuration of a set of Files. Safe for concurrent use.
type Reloader struct {
	files Files
	log   *slog.Logger

	mu        sync.Mutex
	cfg       *tls.Config
	mtimes    [3]time.Time // of CertFile, KeyFile, CAFile when cfg was loaded
	lastCheck time.Time
}

// New loads the files; an error names the file that does not load.
func New(f Files, log *slog.Logger) (*Reloader, error) {
	if f.ClientAuth == "" {
		f.ClientAuth = ClientAuthNone
	}
	if err := f.Validate("ssl-"); err != nil {
		return nil, err
	}
	r := &Reloader{files: f, log: log}
	cfg, mtimes, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cfg, r.mtimes, r.lastCheck = cfg, mtimes, time.Now()
	return r, nil
}

// Config returns the tls.Config to give the listener: each handshake gets the current
// configuration through GetConfigForClient.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current(time.Now()), nil
		},
	}
}

// current returns the configuration, reloading it first if a file changed.
func (r *Reloader) current(now time.Time) *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastCheck) < checkInterval {
		return r.cfg
	}
	r.lastCheck = now
	mtimes, err := r.stat()
	if err != nil {
		r.log.Warn("cannot check TLS files for changes, keeping the loaded certificate", "err", err)
		return r.cfg
	}
	if mtimes == r.mtimes {
		return r.cfg
	}
	cfg, mtimes, err := r.load()
	if err != nil {
		// Remember the bad version so it is logged once, not on every handshake.
		r.mtimes = mtimes
		r.log.Error("cannot reload TLS files, keeping the previous certificate", "err", err)
		return r.cfg
	}
	r.cfg, r.mtimes = cfg, mtimes
	r.log.Info("reloaded TLS certificate", "cert_file", r.files.CertFile, "subject", subjectOf(cfg))
	return r.cfg
}

func (r *Reloader) paths() [3]string {
	return [3]string{r.files.CertFile, r.files.KeyFile, r.files.CAFile}
}

func (r *Reloader) stat() ([3]time.Time, error) {
	var ts [3]time.Time
	for i, p := range r.paths() {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return ts, fmt.Errorf("cannot stat %s: %w", p, err)
		}
		ts[i] = fi.ModTime()
	}
	return ts, nil
}

// load reads the files; mtimes are taken before reading, so a write during the read is
// seen at the next check.
func (r *Reloader) load() (*tls.Config, [3]time.Time, error) {
	mtimes, err := r.stat()
	if err != nil {
		return nil, mtimes, err
	}
	f := r.files
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, mtimes, fmt.Errorf("cannot load certificate %s with key %s: %w", f.CertFile, f.KeyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, mtimes, fmt.Errorf("cannot read CA file %s: %w", f.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, mtimes, fmt.Errorf("cannot load CA file %s: no PEM certificate in it", f.CAFile)
		}
		cfg.ClientCAs = pool
	}
	switch f.ClientAuth {
	case ClientAuthRequired:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthRequested:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	return cfg, mtimes, nil
}

func subjectOf(cfg *tls.Config) string {
	if len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return ""
	}
	c, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		return ""
	}
	return c.Subject.String()
}
