package tls

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testcerts"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestClusterTellsEachListenerItsOwnAddresses: brokers 0 and 2 have an INTERNAL PLAINTEXT
// and an EXTERNAL SSL listener; broker 1 has only --listen, as a broker from before named
// listeners registers (a rolling upgrade). A client on broker 0's EXTERNAL listener is
// told every broker's EXTERNAL address, broker 1 by its registered host:port; a client on
// INTERNAL is told INTERNAL addresses; a client of broker 1 (listener PLAINTEXT, which
// no broker names) is told every broker's registered host:port.
func TestClusterTellsEachListenerItsOwnAddresses(t *testing.T) {
	etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
	s3 := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	ca := testcerts.NewCA(t, "ca")
	cert := ca.Server(t, "broker")
	type addrs struct{ internal, external string }
	var brokers []addrs
	for id := range 3 {
		args := []string{"--broker-id", strconv.Itoa(id)}
		var a addrs
		if id != 1 {
			a.internal, a.external = kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
			_, exPort, _ := net.SplitHostPort(a.external)
			a.external = "localhost:" + exPort
			args = append(args, "--listeners", "INTERNAL://"+a.internal+",EXTERNAL://127.0.0.1:"+exPort,
				"--advertised-listeners", "EXTERNAL://"+a.external,
				"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,EXTERNAL:SSL",
				"--ssl-cert-file", cert.CertFile, "--ssl-key-file", cert.KeyFile)
		}
		b := testbroker.StartBroker(t, etcd.Endpoints(), s3, args...)
		if id == 1 {
			a.internal = b.Addr
		}
		brokers = append(brokers, a)
	}
	tcfg := (&tlsBroker{ca: ca}).tlsConfig(nil)
	for _, tc := range []struct {
		name, seed string
		tls        bool
		want       []string
	}{
		{"Broker0External", brokers[0].external, true, []string{brokers[0].external, brokers[1].internal, brokers[2].external}},
		{"Broker0Internal", brokers[0].internal, false, []string{brokers[0].internal, brokers[1].internal, brokers[2].internal}},
		{"Broker1Plaintext", brokers[1].internal, false, []string{brokers[0].internal, brokers[1].internal, brokers[2].internal}},
		{"Broker2External", brokers[2].external, true, []string{brokers[0].external, brokers[1].internal, brokers[2].external}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c = tcfg
			if !tc.tls {
				c = nil
			}
			cl := newClient(t, tc.seed, c)
			want := strings.Join(tc.want, " ")
			kafkatest.WaitUntil(t, timeout, "Metadata to list the 3 brokers at the listener's addresses", func() error {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				// Ask the seed itself: franz-go sends a request without a broker to any
				// broker it knows, which after the first answer may be another one.
				resp, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
				if err != nil {
					return err
				}
				md := resp.(*kmsg.MetadataResponse)
				got := make([]string, len(md.Brokers))
				sort.Slice(md.Brokers, func(i, j int) bool { return md.Brokers[i].NodeID < md.Brokers[j].NodeID })
				for i, b := range md.Brokers {
					got[i] = hostPort(b.Host, b.Port)
				}
				if g := strings.Join(got, " "); g != want {
					return fmt.Errorf("brokers at %s, want %s", g, want)
				}
				return nil
			})
		})
	}
}
