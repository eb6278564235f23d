package sasl

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestUserCreatedOnOneBrokerLogsInOnAnother: SCRAM credentials live in etcd, so a user
// created through broker 0 of a two-broker cluster logs in on broker 1 within seconds,
// and a password changed through broker 1 is the one broker 0 checks.
func TestUserCreatedOnOneBrokerLogsInOnAnother(t *testing.T) {
	etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
	s3 := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	type addrs struct{ internal, sasl string }
	var brokers []addrs
	for id := range 2 {
		a := addrs{kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)}
		testbroker.StartBroker(t, etcd.Endpoints(), s3, "--broker-id", strconv.Itoa(id),
			"--listeners", "INTERNAL://"+a.internal+",SASL://"+a.sasl,
			"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT",
			"--sasl-enabled-mechanisms", "SCRAM-SHA-256")
		brokers = append(brokers, a)
	}
	createScramUser(t, brokers[0].internal, "erin", "first", kadm.ScramSha256)
	kafkatest.WaitUntil(t, timeout, "erin to log in on broker 1", func() error {
		return authError(t, brokers[1].sasl, kgo.SASL(scramMech("erin", "first", false)))
	})
	createScramUser(t, brokers[1].internal, "erin", "second", kadm.ScramSha256)
	kafkatest.WaitUntil(t, timeout, "erin's new password on broker 0", func() error {
		return authError(t, brokers[0].sasl, kgo.SASL(scramMech("erin", "second", false)))
	})
	createTopic(t, brokers[0].internal, "cluster-sasl")
	produceConsume(t, brokers[1].sasl, "cluster-sasl", 10, kgo.SASL(scramMech("erin", "second", false)))
}
