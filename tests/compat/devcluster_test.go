package compat

import (
	"testing"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// startDevCluster starts `kafscale dev --brokers n` and returns broker 0's address.
func startDevCluster(t *testing.T, n int) string {
	t.Helper()
	return testbroker.StartDevCluster(t, n, "--flush-interval", "20ms").Addr
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
