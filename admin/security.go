package admin

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security says how the admin client connects to a listener that is not PLAINTEXT.
type Security struct {
	// Protocol is PLAINTEXT (or empty), SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// CAFile holds the PEM CAs the brokers' certificates must chain to (default: the
	// system's).
	CAFile string
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with User and Password.
	Mechanism      string
	User, Password string
}

// jaasCredential pulls username and password out of a sasl.jaas.config value.
var jaasCredential = regexp.MustCompile(`(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// LoadCommandConfig reads the client security settings of a Kafka tools' --command-config
// properties file: security.protocol, ssl.truststore.location with ssl.truststore.type=PEM
// (or librdkafka's ssl.ca.location), sasl.mechanism(s) and sasl.jaas.config (or
// librdkafka's sasl.username and sasl.password). Any other key is refused rather than
// ignored, so that a setting it names never silently has no effect.
func LoadCommandConfig(path string) (Security, error) {
	f, err := os.Open(path)
	if err != nil {
		return Security{}, fmt.Errorf("cannot read --command-config: %w", err)
	}
	defer f.Close()
	var s Security
	truststoreType := "PEM"
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Security{}, fmt.Errorf("--command-config %s line %d: want key=value", path, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "security.protocol":
			s.Protocol = strings.ToUpper(v)
		case "ssl.truststore.location", "ssl.ca.location":
			s.CAFile = v
		case "ssl.truststore.type":
			truststoreType = strings.ToUpper(v)
		case "sasl.mechanism", "sasl.mechanisms":
			s.Mechanism = strings.ToUpper(v)
		case "sasl.username":
			s.User = v
		case "sasl.password":
			s.Password = v
		case "sasl.jaas.config":
			for _, m := range jaasCredential.FindAllStringSubmatch(v, -1) {
				val := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[2])
				if m[1] == "username" {
					s.User = val
				} else {
					s.Password = val
				}
			}
		default:
			return Security{}, fmt.Errorf("--command-config %s line %d: %s is not supported (only security.protocol, ssl.truststore.location, ssl.truststore.type=PEM, ssl.ca.location, sasl.mechanism, sasl.jaas.config, sasl.username, sasl.password)", path, n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return Security{}, fmt.Errorf("cannot read --command-config %s: %w", path, err)
	}
	if truststoreType != "PEM" {
		return Security{}, fmt.Errorf("--command-config %s: ssl.truststore.type %s is not supported (PEM only)", path, truststoreType)
	}
	return s, s.validate()
}

func (s Security) validate() error {
	sasl := s.Protocol == "SASL_PLAINTEXT" || s.Protocol == "SASL_SSL"
	switch {
	case s.Protocol != "" && s.Protocol != "PLAINTEXT" && s.Protocol != "SSL" && !sasl:
		return fmt.Errorf("security.protocol %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.Protocol)
	case sasl && s.Mechanism != "PLAIN" && s.Mechanism != "SCRAM-SHA-256" && s.Mechanism != "SCRAM-SHA-512":
		return fmt.Errorf("sasl.mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	case sasl && (s.User == "" || s.Password == ""):
		return fmt.Errorf("security.protocol %s needs a username and a password (sasl.jaas.config)", s.Protocol)
	case !sasl && (s.Mechanism != "" || s.User != ""):
		return fmt.Errorf("SASL settings need security.protocol SASL_PLAINTEXT or SASL_SSL (set to %q)", s.Protocol)
	case s.CAFile != "" && s.Protocol != "SSL" && s.Protocol != "SASL_SSL":
		return fmt.Errorf("a truststore needs security.protocol SSL or SASL_SSL (set to %q)", s.Protocol)
	}
	return nil
}

// opts returns the client options that connect as s says.
func (s Security) opts() ([]kgo.Opt, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if s.Protocol == "SSL" || s.Protocol == "SASL_SSL" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("cannot read the truststore: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("the truststore %s holds no PEM certificate", s.CAFile)
			}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch s.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()))
	}
	return opts, nil
}
