package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/netio"
	"github.com/kafscale/kafscale/sslprincipal"
	"github.com/kafscale/kafscale/tlsfiles"
)

// listenerConfig holds Kafka's named-listener settings (listeners, advertised.listeners,
// listener.security.protocol.map, inter.broker.listener.name) and the TLS files of the SSL
// listeners. Without --listeners the broker has one PLAINTEXT listener, --listen.
type listenerConfig struct {
	Listeners           string
	AdvertisedListeners string
	ProtocolMap         string
	InterBrokerListener string
	SSL                 tlsfiles.Files
	// ListenerSSL holds per-listener overrides of the SSL files (listener.name.<name>.ssl.*);
	// tlsFiles is each SSL and SASL_SSL listener's resulting set, by name.
	ListenerSSL string
	tlsFiles    map[string]tlsfiles.Files
	// PrincipalMappingRules is ssl.principal.mapping.rules, mapper its parsed form.
	PrincipalMappingRules string
	mapper                *sslprincipal.Mapper
	SASL                  saslConfig
	named                 []namedListener // parsed by finishListeners
	interBroker           string          // the inter-broker listener's name, once parsed
	listenDefault         string          // --listen's default, to tell it was set
}

// namedListener is one parsed entry of --listeners.
type namedListener struct {
	name, protocol, addr string
	advHost              string
	advPort              int32
}

// defaultProtocolMap is Kafka's default listener.security.protocol.map.
const defaultProtocolMap = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"

func listenerFlags(fs *flag.FlagSet, c *listenerConfig) {
	fs.StringVar(&c.Listeners, "listeners", c.Listeners, "named listeners NAME://host:port,... (Kafka's listeners; replaces --listen); each name's security protocol comes from --listener-security-protocol-map")
	fs.StringVar(&c.AdvertisedListeners, "advertised-listeners", c.AdvertisedListeners, "NAME://host:port,... clients of each listener are told to connect to (advertised.listeners; default: the listener's own address, which must then name a host)")
	fs.StringVar(&c.ProtocolMap, "listener-security-protocol-map", c.ProtocolMap, "NAME:PROTOCOL,... with PROTOCOL PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (listener.security.protocol.map)")
	fs.StringVar(&c.InterBrokerListener, "inter-broker-listener-name", c.InterBrokerListener, "the listener the broker's own clients (consumer lag export) and brokers from before named listeners use; it must be PLAINTEXT (default: the first of --listeners)")
	fs.StringVar(&c.SSL.CertFile, "ssl-cert-file", c.SSL.CertFile, "PEM certificate chain of the SSL listeners, reloaded when it changes")
	fs.StringVar(&c.SSL.KeyFile, "ssl-key-file", c.SSL.KeyFile, "PEM private key of --ssl-cert-file, reloaded when it changes")
	fs.StringVar(&c.SSL.CAFile, "ssl-ca-file", c.SSL.CAFile, "PEM CA certificates that client certificates must chain to (mTLS), reloaded when it changes")
	fs.StringVar(&c.SSL.ClientAuth, "ssl-client-auth", c.SSL.ClientAuth, "none, requested or required: whether SSL listeners ask clients for a certificate (ssl.client.auth); the certificate's subject is the connection's principal")
	fs.StringVar(&c.ListenerSSL, "listener-ssl", c.ListenerSSL, "per-listener TLS files (listener.name.<name>.ssl.*): NAME:cert=FILE,key=FILE,ca=FILE,client-auth=none|requested|required;NAME:... for SSL and SASL_SSL listeners; a key not given comes from --ssl-cert-file, --ssl-key-file, --ssl-ca-file, --ssl-client-auth")
	fs.StringVar(&c.PrincipalMappingRules, "ssl-principal-mapping-rules", c.PrincipalMappingRules, "how an SSL client certificate's subject becomes the principal's name (ssl.principal.mapping.rules): RULE:pattern/replacement/[LU] and DEFAULT (the subject as it is), separated by commas, the first that matches the whole subject wins; a certificate none matches is refused")
	saslFlags(fs, &c.SASL)
}

// hasSASLListener reports whether a listener's protocol is SASL_PLAINTEXT or SASL_SSL.
func (c *listenerConfig) hasSASLListener() bool {
	for _, l := range c.named {
		if isSASL(l.protocol) {
			return true
		}
	}
	return false
}

func isSASL(protocol string) bool {
	return protocol == netio.ProtocolSASLPlaintext || protocol == netio.ProtocolSASLSSL
}

func isTLS(protocol string) bool {
	return protocol == netio.ProtocolSSL || protocol == netio.ProtocolSASLSSL
}

// parseNamed splits NAME://host:port,... into names and addresses, naming flag in errors.
func parseNamed(flagName, s string) ([]string, []string, error) {
	var names, addrs []string
	for _, e := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(e), "://")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("--%s entries must be NAME://host:port (set to %q)", flagName, s)
		}
		name = strings.ToUpper(name)
		for _, n := range names {
			if n == name {
				return nil, nil, fmt.Errorf("--%s names listener %s twice (set to %q)", flagName, name, s)
			}
		}
		if _, _, err := splitHostPort(flagName, addr); err != nil {
			return nil, nil, err
		}
		names, addrs = append(names, name), append(addrs, addr)
	}
	return names, addrs, nil
}

// finishListeners parses the listener flags into c.Net, c.Broker, c.Listen and
// c.AdvertisedListener (the inter-broker listener's), or leaves them to --listen.
func (c *serverConfig) finishListeners() error {
	lc := &c.listenerConfig
	if lc.Listeners == "" {
		for flagName, v := range map[string]string{"advertised-listeners": lc.AdvertisedListeners, "inter-broker-listener-name": lc.InterBrokerListener} {
			if v != "" {
				return fmt.Errorf("--%s needs --listeners (set to %q)", flagName, v)
			}
		}
		lc.named = nil
		if lc.ListenerSSL != "" {
			return fmt.Errorf("--listener-ssl needs --listeners (set to %q)", lc.ListenerSSL)
		}
		if err := lc.parsePrincipalMapping(); err != nil {
			return err
		}
		return lc.SASL.validate(false)
	}
	if c.Listen != lc.listenDefault || c.AdvertisedListener != "" {
		return fmt.Errorf("--listeners replaces --listen and --advertised-listener: give one or the other (--listen %q, --advertised-listener %q)", c.Listen, c.AdvertisedListener)
	}
	names, addrs, err := parseNamed("listeners", lc.Listeners)
	if err != nil {
		return err
	}
	protocols := map[string]string{}
	pm := lc.ProtocolMap
	if pm == "" {
		pm = defaultProtocolMap
	}
	for _, e := range strings.Split(pm, ",") {
		name, proto, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok || name == "" {
			return fmt.Errorf("--listener-security-protocol-map entries must be NAME:PROTOCOL (set to %q)", pm)
		}
		protocols[strings.ToUpper(name)] = strings.ToUpper(proto)
	}
	adv := map[string]string{}
	if lc.AdvertisedListeners != "" {
		an, aa, err := parseNamed("advertised-listeners", lc.AdvertisedListeners)
		if err != nil {
			return err
		}
		for i, n := range an {
			adv[n] = aa[i]
		}
	}
	lc.named = nil
	ssl := false
	for i, name := range names {
		proto, ok := protocols[name]
		switch {
		case !ok:
			return fmt.Errorf("--listener-security-protocol-map has no protocol for listener %s (set to %q)", name, pm)
		case proto != netio.ProtocolPlaintext && !isTLS(proto) && !isSASL(proto):
			return fmt.Errorf("listener %s: unknown security protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", name, proto)
		}
		ssl = ssl || isTLS(proto)
		a, ok := adv[name]
		delete(adv, name)
		if !ok {
			a = addrs[i]
		}
		host, port, err := splitHostPort("advertised-listeners", a)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("--advertised-listeners must give listener %s a host: it binds all interfaces (%s)", name, addrs[i])
		}
		if _, lport, _ := splitHostPort("listeners", addrs[i]); port == 0 && lport != 0 {
			port = lport
		}
		lc.named = append(lc.named, namedListener{name: name, protocol: proto, addr: addrs[i], advHost: host, advPort: port})
	}
	for n := range adv {
		return fmt.Errorf("--advertised-listeners names listener %s, which --listeners does not have", n)
	}
	if err := lc.SASL.validate(lc.hasSASLListener()); err != nil {
		return err
	}
	if err := lc.parseListenerSSL(ssl); err != nil {
		return err
	}
	if err := lc.parsePrincipalMapping(); err != nil {
		return err
	}
	ib := lc.named[0]
	if lc.InterBrokerListener != "" {
		found := false
		for _, l := range lc.named {
			if l.name == strings.ToUpper(lc.InterBrokerListener) {
				ib, found = l, true
			}
		}
		if !found {
			return fmt.Errorf("--inter-broker-listener-name %s is not one of --listeners", lc.InterBrokerListener)
		}
	}
	if ib.protocol != netio.ProtocolPlaintext {
		return fmt.Errorf("the inter-broker listener %s must be PLAINTEXT for now: the broker's own clients do not speak TLS yet (name another with --inter-broker-listener-name)", ib.name)
	}

	// The first PLAINTEXT listener is served by gnet, the others by netio's standard
	// library listeners.
	c.Net.Listeners = nil
	c.Broker.Listeners = nil
	gnetDone := false
	for _, l := range lc.named {
		c.Broker.Listeners = append(c.Broker.Listeners, &metapb.AdvertisedListener{Name: l.name, Host: l.advHost, Port: l.advPort})
		if l.protocol == netio.ProtocolPlaintext && !gnetDone {
			c.Listen, c.Net.ListenerName, gnetDone = l.addr, l.name, true
			continue
		}
		c.Net.Listeners = append(c.Net.Listeners, netio.Listener{Name: l.name, Addr: l.addr, SASL: isSASL(l.protocol)})
	}
	c.AdvertisedListener = net.JoinHostPort(ib.advHost, fmt.Sprint(ib.advPort))
	lc.interBroker = ib.name
	return nil
}

// listenerSSLKeys are the keys of --listener-ssl, each overriding one --ssl-* flag.
var listenerSSLKeys = map[string]func(*tlsfiles.Files) *string{
	"cert":        func(f *tlsfiles.Files) *string { return &f.CertFile },
	"key":         func(f *tlsfiles.Files) *string { return &f.KeyFile },
	"ca":          func(f *tlsfiles.Files) *string { return &f.CAFile },
	"client-auth": func(f *tlsfiles.Files) *string { return &f.ClientAuth },
}

// parseListenerSSL gives each SSL and SASL_SSL listener its TLS files: --ssl-* with the
// keys --listener-ssl gives it replaced, key by key, as Kafka's listener.name.<name>.ssl.*
// override ssl.*. A listener's set is checked on its own, so a listener that has all its
// files from --listener-ssl needs no --ssl-* at all.
func (lc *listenerConfig) parseListenerSSL(anySSL bool) error {
	overrides := map[string]tlsfiles.Files{}
	given := map[string]bool{}
	if lc.ListenerSSL != "" {
		for _, e := range strings.Split(lc.ListenerSSL, ";") {
			name, kvs, ok := strings.Cut(strings.TrimSpace(e), ":")
			name = strings.ToUpper(strings.TrimSpace(name))
			if !ok || name == "" {
				return fmt.Errorf("--listener-ssl entries must be NAME:key=value,... separated by ';' (set to %q)", lc.ListenerSSL)
			}
			if given[name] {
				return fmt.Errorf("--listener-ssl names listener %s twice (set to %q)", name, lc.ListenerSSL)
			}
			var l *namedListener
			for i := range lc.named {
				if lc.named[i].name == name {
					l = &lc.named[i]
				}
			}
			switch {
			case l == nil:
				return fmt.Errorf("--listener-ssl names listener %s, which --listeners does not have", name)
			case !isTLS(l.protocol):
				return fmt.Errorf("--listener-ssl names listener %s, which is %s: only SSL and SASL_SSL listeners use TLS files", name, l.protocol)
			}
			f := lc.SSL
			seen := map[string]bool{}
			for _, kv := range strings.Split(kvs, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
				field, known := listenerSSLKeys[k]
				switch {
				case !ok || !known:
					return fmt.Errorf("--listener-ssl %s: %q is not cert=FILE, key=FILE, ca=FILE or client-auth=none|requested|required", name, kv)
				case seen[k]:
					return fmt.Errorf("--listener-ssl %s: %s given twice", name, k)
				case v == "":
					return fmt.Errorf("--listener-ssl %s: %s is empty", name, k)
				}
				seen[k] = true
				*field(&f) = v
			}
			overrides[name], given[name] = f, true
		}
	}
	lc.tlsFiles = nil
	if !anySSL {
		return nil
	}
	lc.tlsFiles = map[string]tlsfiles.Files{}
	for _, l := range lc.named {
		if !isTLS(l.protocol) {
			continue
		}
		f, ok := overrides[l.name]
		if !ok {
			f = lc.SSL
		}
		if f.ClientAuth == "" {
			f.ClientAuth = tlsfiles.ClientAuthNone
		}
		if err := f.Validate("ssl-"); err != nil {
			if ok {
				return fmt.Errorf("listener %s (--listener-ssl, with --ssl-* for keys it does not give): %w", l.name, err)
			}
			return err
		}
		lc.tlsFiles[l.name] = f
	}
	return nil
}

// parsePrincipalMapping parses --ssl-principal-mapping-rules. Rules other than DEFAULT
// need an SSL listener that asks for client certificates, or they would do nothing.
func (lc *listenerConfig) parsePrincipalMapping() error {
	lc.mapper = nil
	rules := lc.PrincipalMappingRules
	if rules == "" {
		rules = sslprincipal.DefaultRules
	}
	m, err := sslprincipal.Parse(rules)
	if err != nil {
		return fmt.Errorf("--ssl-principal-mapping-rules: %w", err)
	}
	if m.String() == "[]" {
		return fmt.Errorf("--ssl-principal-mapping-rules has no rule, so every client certificate would be refused (set to %q; DEFAULT keeps the subject)", lc.PrincipalMappingRules)
	}
	if m.String() == "[DEFAULT]" {
		return nil
	}
	asks := false
	for _, l := range lc.named {
		asks = asks || l.protocol == netio.ProtocolSSL && lc.tlsFiles[l.name].ClientAuth != tlsfiles.ClientAuthNone
	}
	if !asks {
		return fmt.Errorf("--ssl-principal-mapping-rules needs an SSL listener that asks for client certificates (--ssl-client-auth or --listener-ssl client-auth requested or required): on SASL_SSL the principal is the SASL user")
	}
	lc.mapper = m
	return nil
}

// listenerTLS loads the TLS files of the SSL and SASL_SSL listeners into a copy of cfg.
func (c *serverConfig) listenerTLS(cfg netio.Config, log *slog.Logger) (netio.Config, error) {
	lc := &c.listenerConfig
	cfg.Listeners = append([]netio.Listener(nil), cfg.Listeners...)
	// Listeners with the same files share a reloader, whose log lines name them all.
	sharing := map[tlsfiles.Files][]string{}
	for _, nl := range lc.named {
		if isTLS(nl.protocol) {
			sharing[lc.tlsFiles[nl.name]] = append(sharing[lc.tlsFiles[nl.name]], nl.name)
		}
	}
	reloaders := map[tlsfiles.Files]*tlsfiles.Reloader{}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		for _, nl := range lc.named {
			if nl.name != l.Name || !isTLS(nl.protocol) {
				continue
			}
			files := lc.tlsFiles[nl.name]
			r := reloaders[files]
			if r == nil {
				var err error
				if r, err = tlsfiles.New(files, log.With("component", "tls", "listeners", strings.Join(sharing[files], ","))); err != nil {
					return cfg, fmt.Errorf("listener %s: %w", nl.name, err)
				}
				reloaders[files] = r
			}
			l.TLS = r.Config()
			if nl.protocol == netio.ProtocolSSL && lc.mapper != nil {
				l.MapPrincipal = lc.mapper.Name
			}
		}
	}
	return cfg, nil
}

// resolveListenerPorts fills in the advertised ports of listeners bound to port 0, and
// the registration's port from the inter-broker listener.
func (c *serverConfig) resolveListenerPorts(bcfg *broker.Config, ns *netio.Server) {
	gnetListener := c.Net.ListenerName
	out := make([]*metapb.AdvertisedListener, 0, len(bcfg.Listeners))
	for _, l := range bcfg.Listeners {
		if l.GetPort() == 0 {
			addr := ns.ListenerAddr(l.GetName())
			if l.GetName() == gnetListener {
				addr = ns.Addr()
			}
			if ta, ok := addr.(*net.TCPAddr); ok {
				l = &metapb.AdvertisedListener{Name: l.GetName(), Host: l.GetHost(), Port: int32(ta.Port)}
			}
		}
		if l.GetName() == c.interBroker {
			bcfg.AdvertisedPort = l.GetPort()
		}
		out = append(out, l)
	}
	bcfg.Listeners = out
}
