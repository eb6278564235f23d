package compat

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
	"github.com/kafscale/kafscale/internal/testbroker"
)

// startDevCluster starts `kafscale dev --brokers n` (broker i on the Kafka and metrics
// ports of broker 0 plus i), waits until every broker is ready and lists all n in its
// Metadata, stops it with SIGTERM when the test ends (the brokers drain to each other in
// turn and exit), and returns broker 0's address: clients find the others through
// Metadata.
func startDevCluster(t *testing.T, n int) string {
	t.Helper()
	p := testbroker.Start(t, "--brokers", strconv.Itoa(n), "--flush-interval", "20ms")
	t.Cleanup(func() {
		if p.Running() {
			p.Term(60 * time.Second)
		}
	})
	host, mport, err := net.SplitHostPort(p.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := strconv.Atoi(mport)
	hc := &http.Client{Timeout: time.Second}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("%d dev brokers ready and listed in Metadata", n), func() error {
		for i := 1; i < n; i++ {
			resp, err := hc.Get("http://" + net.JoinHostPort(host, strconv.Itoa(base+i)) + "/readyz")
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
			return fmt.Errorf("Metadata lists %d brokers", len(resp.Brokers))
		}
		return nil
	})
	return p.Addr
}

// TestClientsAgainstDevCluster runs the client tests of this package against `kafscale dev
// --brokers 3` (issue 12, acceptances 3 and 8): every topic of more than one partition is
// spread over the brokers, so each client follows the leaders through Metadata, sends to
// each broker what it leads, and reads it back.
func TestClientsAgainstDevCluster(t *testing.T) {
	devClusterBrokers = 3
	defer func() { devClusterBrokers = 1 }()
	for name, test := range map[string]func(*testing.T){
		"franz-go":        TestFranzGoRoundTripsEveryCodecWithAcksAll,
		"kcat":            TestKcatProducesAndConsumes,
		"kafkajs":         TestKafkajsCreatesTopicAndProduces,
		"confluent-kafka": TestPythonConfluentKafkaProducesAndConsumes,
		"sarama":          TestSaramaSyncProducerAndPartitionConsumerRoundTrip,
		"kafka-go":        TestKafkaGoWriterAndPartitionReaderRoundTrip,
	} {
		t.Run(name, test)
	}
}
