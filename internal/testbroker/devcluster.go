package testbroker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// StartDevCluster starts `kafscale dev --brokers n` with extra flags args (broker i on the
// Kafka and metrics ports of broker 0 plus i), waits until every broker is ready and
// broker 0's Metadata lists all n, and stops it with SIGTERM when the test ends (the
// brokers drain to each other in turn and exit). Clients bootstrap from p.Addr and find
// the others through Metadata; MetricsAddrOf gives broker i's metrics address.
func StartDevCluster(t testing.TB, n int, args ...string) *Process {
	t.Helper()
	p := Start(t, append([]string{"--brokers", strconv.Itoa(n)}, args...)...)
	t.Cleanup(func() {
		if p.Running() {
			p.Term(60 * time.Second)
		}
	})
	hc := &http.Client{Timeout: time.Second}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("%d dev brokers ready and listed in Metadata", n), func() error {
		for i := 1; i < n; i++ {
			resp, err := hc.Get("http://" + p.MetricsAddrOf(i) + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("broker %d: /readyz %s", i, resp.Status)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Brokers) != n {
			return fmt.Errorf("broker 0's Metadata lists %d brokers", len(resp.Brokers))
		}
		return nil
	})
	return p
}

// MetricsAddrOf returns the metrics address of broker i of a dev cluster: broker 0's
// metrics port plus i.
func (p *Process) MetricsAddrOf(i int) string {
	host, port, err := net.SplitHostPort(p.MetricsAddr)
	if err != nil {
		p.t.Fatalf("bad metrics address %s: %v", p.MetricsAddr, err)
	}
	base, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(base+i))
}
