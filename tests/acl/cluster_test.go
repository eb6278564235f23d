package acl

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// TestACLCreatedOnOneBrokerAppliesOnAnother: ACLs live in etcd and every broker watches
// them, so an ACL created through broker 0 of a two-broker cluster lets alice produce
// through broker 1 within seconds, and its deletion through broker 1 stops her on broker 0.
func TestACLCreatedOnOneBrokerAppliesOnAnother(t *testing.T) {
	etcd, minio := testinfra.StartEtcd(t), testinfra.StartMinIO(t)
	s3 := testbroker.S3{Endpoint: minio.Endpoint, Region: minio.Region, Bucket: minio.Bucket,
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey}
	var seeds []string
	for id := range 2 {
		in, sa := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
		testbroker.StartBroker(t, etcd.Endpoints(), s3, append([]string{"--broker-id", strconv.Itoa(id)}, aclArgs(t, in, sa)...)...)
		seeds = append(seeds, sa)
	}
	createTopics(t, seeds[0], "cluster-acl")
	wantErr(t, "alice produces before the ACL", produceErr(t, seeds[1], "alice", "cluster-acl"), kerr.TopicAuthorizationFailed)
	b := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("cluster-acl").Operations(kadm.OpWrite)
	addACLs(t, seeds[0], b)
	start := time.Now()
	eventually(t, "alice produces through broker 1", func() error { return produceErr(t, seeds[1], "alice", "cluster-acl") })
	t.Logf("the ACL created through broker 0 let alice produce through broker 1 after %s", time.Since(start).Round(time.Millisecond))
	b.ResourcePatternType(kadm.ACLPatternLiteral)
	if _, err := admin(t, seeds[1], "admin").DeleteACLs(ctxT(t), b); err != nil {
		t.Fatalf("cannot delete the ACL through broker 1: %v", err)
	}
	eventually(t, "alice is denied on broker 0", func() error {
		if err := produceErr(t, seeds[0], "alice", "cluster-acl"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			return fmt.Errorf("alice produces through broker 0: %v", err)
		}
		return nil
	})
}
