package broker

import (
	"net"
	"strconv"
	"strings"

	"github.com/kafscale/kafscale/meta/metapb"
)

// Named listeners: a broker registers every advertised listener (advertised.listeners)
// with its registration in etcd, and each answer that names brokers (Metadata,
// FindCoordinator, DescribeCluster, the KIP-951 leader hints of Produce and Fetch) gives
// a client the addresses of the listener it connected to, as Kafka does: a client inside
// the cluster on PLAINTEXT is sent to PLAINTEXT addresses, one outside on SSL to SSL ones.

// endpointOf returns br's host and port for clients of listener: that listener's
// advertised address, or br's registered host and port when br registered no listener of
// that name (a broker from before named listeners, during a rolling upgrade).
func endpointOf(br *metapb.Broker, listener string) (string, int32) {
	for _, l := range br.GetListeners() {
		if l.GetName() == listener {
			return l.GetHost(), l.GetPort()
		}
	}
	return br.GetHost(), br.GetPort()
}

// listenerOf returns the name of the listener c came on.
func listenerOf(c *call) string { return c.req.Conn.Listener() }

// advertisedListeners returns advertised.listeners in Kafka's NAME://host:port,... form.
func (b *Broker) advertisedListeners() string {
	if len(b.cfg.Listeners) == 0 {
		return "PLAINTEXT://" + net.JoinHostPort(b.cfg.AdvertisedHost, strconv.Itoa(int(b.cfg.AdvertisedPort)))
	}
	parts := make([]string, 0, len(b.cfg.Listeners))
	for _, l := range b.cfg.Listeners {
		parts = append(parts, l.GetName()+"://"+net.JoinHostPort(l.GetHost(), strconv.Itoa(int(l.GetPort()))))
	}
	return strings.Join(parts, ",")
}

// AdvertisedListeners returns advertised.listeners as the broker registered them.
func (b *Broker) AdvertisedListeners() string { return b.advertisedListeners() }
