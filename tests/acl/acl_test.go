// Package acl tests ACL enforcement (--authorizer) with real clients over SASL/PLAIN:
// franz-go and kcat allowed and denied for produce, fetch, group consumption and admin
// requests, Metadata hiding what a principal may not describe, prefixed patterns, deny
// over allow, a super user, Apache Kafka's kafka-acls managing the ACLs, and a two-broker
// cluster on etcd and MinIO where an ACL created through one broker applies on the other.
package acl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// timeout bounds each client's run; propagation bounds how long an ACL change may take
// to reach a broker (etcd watch).
const (
	timeout     = 60 * time.Second
	propagation = 10 * time.Second
)

// users are the SASL/PLAIN users every broker of these tests knows.
const users = "admin:admin-secret\nalice:alice-secret\nbob:bob-secret\n"

// aclArgs are the flags of a broker with a PLAINTEXT (INTERNAL) and a SASL_PLAINTEXT
// listener, the authorizer on and User:admin a super user.
func aclArgs(t *testing.T, internal, saslAddr string) []string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(f, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"--listeners", "INTERNAL://" + internal + ",SASL://" + saslAddr,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT",
		"--sasl-enabled-mechanisms", "PLAIN", "--sasl-plain-users-file", f,
		"--authorizer", "--super-users", "User:admin",
	}
}

// startACLBroker starts `kafscale dev` with aclArgs and returns its SASL address.
func startACLBroker(t *testing.T) string {
	t.Helper()
	in, sa := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	testbroker.Start(t, aclArgs(t, in, sa)...)
	return sa
}

// client returns a franz-go client logged in as user (password user-secret).
func client(t *testing.T, seed, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed), kgo.RequestRetries(2),
		kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func admin(t *testing.T, seed, user string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(client(t, seed, user))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// createTopics creates topics (one partition each) as the super user.
func createTopics(t *testing.T, seed string, topics ...string) {
	t.Helper()
	res, err := admin(t, seed, "admin").CreateTopics(ctxT(t), 1, 1, nil, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("cannot create topics %v as admin: %v", topics, err)
	}
}

// addACLs creates the ACLs b describes as the super user.
func addACLs(t *testing.T, seed string, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := admin(t, seed, "admin").CreateACLs(ctxT(t), b)
	if err != nil {
		t.Fatalf("cannot create ACLs: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("cannot create ACL %+v: %v", r, r.Err)
		}
	}
}

// produceErr produces one record to topic as user and returns the error.
func produceErr(t *testing.T, seed, user, topic string) error {
	t.Helper()
	cl := client(t, seed, user, kgo.DisableIdempotentWrite())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

// consumeErr reads topic as user in group (empty: no group) until it gets a record or an
// error, and returns the error.
func consumeErr(t *testing.T, seed, user, topic, group string) error {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group))
	}
	// Closed on return: a client left behind would stay in the group and could be
	// assigned the partition the next consumer waits for.
	cl := client(t, seed, user, opts...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		if fs.NumRecords() > 0 {
			if group != "" {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					return err
				}
			}
			return nil
		}
	}
}

// eventually waits until check returns nil: an ACL change reaches the brokers through
// etcd's watch, within propagation.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	kafkatest.WaitUntil(t, propagation, what, check)
}

func wantErr(t *testing.T, what string, err error, want *kerr.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %s", what, err, want.Message)
	}
}

func TestACLs(t *testing.T) {
	seed := startACLBroker(t)
	createTopics(t, seed, "orders", "hidden", "team-a.events", "team-b.events", "secret")

	t.Run("produce, fetch and group consume allowed and denied", func(t *testing.T) {
		wantErr(t, "alice produces without an ACL", produceErr(t, seed, "alice", "orders"), kerr.TopicAuthorizationFailed)
		addACLs(t, seed, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("orders").Operations(kadm.OpWrite, kadm.OpRead))
		eventually(t, "alice may produce to orders", func() error { return produceErr(t, seed, "alice", "orders") })
		// An idempotent producer's InitProducerId needs IDEMPOTENT_WRITE on the cluster or
		// WRITE on some topic (Kafka 3's rule): alice has the latter.
		if err := client(t, seed, "alice").ProduceSync(ctxT(t), &kgo.Record{Topic: "orders", Value: []byte("i")}).FirstErr(); err != nil {
			t.Fatalf("alice's idempotent producer: %v", err)
		}
		eventually(t, "alice reads orders", func() error { return consumeErr(t, seed, "alice", "orders", "") })
		wantErr(t, "alice consumes in a group without a group ACL", consumeErr(t, seed, "alice", "orders", "g1"), kerr.GroupAuthorizationFailed)
		addACLs(t, seed, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("g1").Operations(kadm.OpRead))
		eventually(t, "alice consumes in group g1", func() error { return consumeErr(t, seed, "alice", "orders", "g1") })
		wantErr(t, "bob produces", produceErr(t, seed, "bob", "orders"), kerr.TopicAuthorizationFailed)
		wantErr(t, "bob fetches", consumeErr(t, seed, "bob", "orders", ""), kerr.TopicAuthorizationFailed)
	})

	t.Run("authorized operations are the principal's", func(t *testing.T) {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups, req.IncludeAuthorizedOperations = []string{"g1"}, true
		resp, err := req.RequestWith(ctxT(t), client(t, seed, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		// READ on g1 (and the DESCRIBE it implies), not DELETE.
		want := int32(1<<kmsg.ACLOperationRead | 1<<kmsg.ACLOperationDescribe)
		if g := resp.Groups[0]; g.ErrorCode != 0 || g.AuthorizedOperations != want {
			t.Fatalf("alice's DescribeGroups g1: error %d, authorized operations %b, want %b", g.ErrorCode, g.AuthorizedOperations, want)
		}
	})

	t.Run("Metadata hides topics the principal may not describe", func(t *testing.T) {
		eventually(t, "alice sees orders", func() error {
			td, err := admin(t, seed, "alice").ListTopics(ctxT(t))
			if err != nil {
				return err
			}
			if names := td.Names(); !slices.Equal(names, []string{"orders"}) {
				return fmt.Errorf("alice lists %v, want [orders]", names)
			}
			return nil
		})
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("orders")
		req.Topics, req.IncludeTopicAuthorizedOperations = []kmsg.MetadataRequestTopic{rt}, true
		resp, err := req.RequestWith(ctxT(t), client(t, seed, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		want := int32(1<<kmsg.ACLOperationRead | 1<<kmsg.ACLOperationWrite | 1<<kmsg.ACLOperationDescribe)
		if got := resp.Topics[0].AuthorizedOperations; got != want {
			t.Fatalf("alice's authorized operations on orders %b, want %b (READ, WRITE and the DESCRIBE they imply)", got, want)
		}
		td, err := admin(t, seed, "alice").ListTopics(ctxT(t), "hidden")
		if err == nil {
			err = td["hidden"].Err
		}
		wantErr(t, "alice describes hidden", err, kerr.TopicAuthorizationFailed)
		if td, err := admin(t, seed, "admin").ListTopics(ctxT(t)); err != nil || !td.Has("hidden") {
			t.Fatalf("the super user lists %v (%v), want hidden among them", td.Names(), err)
		}
	})

	t.Run("prefixed ACL", func(t *testing.T) {
		addACLs(t, seed, kadm.NewACLs().Allow("User:bob").AllowHosts().Topics("team-a.").
			ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite))
		eventually(t, "bob may produce to team-a.events", func() error { return produceErr(t, seed, "bob", "team-a.events") })
		wantErr(t, "bob produces to team-b.events", produceErr(t, seed, "bob", "team-b.events"), kerr.TopicAuthorizationFailed)
	})

	t.Run("deny wins over allow", func(t *testing.T) {
		addACLs(t, seed, kadm.NewACLs().Allow("User:bob").AllowHosts().Topics("secret").Operations(kadm.OpAll))
		eventually(t, "bob may produce to secret", func() error { return produceErr(t, seed, "bob", "secret") })
		addACLs(t, seed, kadm.NewACLs().Deny("User:bob").DenyHosts().Topics("secret").Operations(kadm.OpWrite))
		eventually(t, "bob is denied secret", func() error {
			if err := produceErr(t, seed, "bob", "secret"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				return fmt.Errorf("bob produces to secret: %v", err)
			}
			return nil
		})
		if err := consumeErr(t, seed, "bob", "secret", ""); err != nil {
			t.Fatalf("bob reads secret (only WRITE is denied): %v", err)
		}
	})

	t.Run("host", func(t *testing.T) {
		createTopics(t, seed, "hosted")
		addACLs(t, seed, kadm.NewACLs().Allow("User:bob").AllowHosts("10.9.9.9").Topics("hosted").Operations(kadm.OpWrite))
		// Created after it: a broker's ACLs are whole listings of etcd, so once bob may
		// describe hosted from 127.0.0.1 the broker also has his WRITE from 10.9.9.9.
		addACLs(t, seed, kadm.NewACLs().Allow("User:bob").AllowHosts("127.0.0.1").Topics("hosted").Operations(kadm.OpDescribe))
		eventually(t, "bob may describe hosted", func() error {
			offs, err := admin(t, seed, "bob").ListEndOffsets(ctxT(t), "hosted")
			if err == nil {
				err = offs.Error()
			}
			return err
		})
		wantErr(t, "bob produces from 127.0.0.1 with an ACL for 10.9.9.9", produceErr(t, seed, "bob", "hosted"), kerr.TopicAuthorizationFailed)
		addACLs(t, seed, kadm.NewACLs().Allow("User:bob").AllowHosts("127.0.0.1").Topics("hosted").Operations(kadm.OpWrite))
		eventually(t, "bob may produce from 127.0.0.1", func() error { return produceErr(t, seed, "bob", "hosted") })
	})

	t.Run("admin actions", func(t *testing.T) {
		res, err := admin(t, seed, "bob").CreateTopics(ctxT(t), 1, 1, nil, "bobs-topic")
		if err == nil {
			err = res.Error()
		}
		wantErr(t, "bob creates a topic", err, kerr.TopicAuthorizationFailed)
		cres, err := admin(t, seed, "bob").CreateACLs(ctxT(t), kadm.NewACLs().Allow("User:bob").AllowHosts().Clusters().Operations(kadm.OpAll))
		if err == nil && len(cres) == 1 {
			err = cres[0].Err
		}
		wantErr(t, "bob grants himself the cluster", err, kerr.ClusterAuthorizationFailed)
		addACLs(t, seed, kadm.NewACLs().Allow("User:bob").AllowHosts().Clusters().Operations(kadm.OpCreate))
		eventually(t, "bob creates a topic with CREATE on the cluster", func() error {
			res, err := admin(t, seed, "bob").CreateTopics(ctxT(t), 1, 1, nil, "bobs-topic")
			if err == nil {
				err = res.Error()
			}
			return err
		})
		dres, err := admin(t, seed, "bob").DeleteTopics(ctxT(t), "bobs-topic")
		if err == nil {
			err = dres.Error()
		}
		wantErr(t, "bob deletes a topic without DELETE", err, kerr.TopicAuthorizationFailed)
	})

	t.Run("invalid ACLs are refused", func(t *testing.T) {
		req := kmsg.NewPtrCreateACLsRequest()
		for _, c := range []struct {
			rt              kmsg.ACLResourceType
			name, principal string
		}{
			{kmsg.ACLResourceTypeTopic, "t", "alice"},                 // no principal type
			{kmsg.ACLResourceTypeCluster, "my-cluster", "User:alice"}, // the cluster is kafka-cluster
			{kmsg.ACLResourceTypeTopic, "", "User:alice"},             // no name
		} {
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = c.rt, c.name, kmsg.ACLResourcePatternTypeLiteral
			cr.Principal, cr.Host, cr.Operation, cr.PermissionType = c.principal, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, cr)
		}
		resp, err := req.RequestWith(ctxT(t), client(t, seed, "admin"))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range resp.Results {
			if r.ErrorCode != kerr.InvalidRequest.Code {
				t.Errorf("creation %d: error %d (%v), want INVALID_REQUEST", i, r.ErrorCode, r.ErrorMessage)
			}
		}
	})

	t.Run("super user needs no ACL", func(t *testing.T) {
		if err := produceErr(t, seed, "admin", "hidden"); err != nil {
			t.Fatalf("admin produces to hidden: %v", err)
		}
	})

	t.Run("kcat", func(t *testing.T) { testKcat(t, seed) })
	t.Run("Java client", func(t *testing.T) { testJavaClients(t, seed) })
	t.Run("confluent-kafka", func(t *testing.T) { testConfluentKafka(t, seed) })
	t.Run("kafka-acls", func(t *testing.T) { testKafkaACLs(t, seed) })
}
