package oracle

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// aclUsers are the SASL/PLAIN users of both servers in TestSameAuthorizationAsKafka.
var aclUsers = map[string]string{"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}

// secured is one server of TestSameAuthorizationAsKafka seen by three principals: su
// (User:ANONYMOUS on the PLAINTEXT listener, a super user), and alice and bob over
// SASL_PLAINTEXT, whom only the ACLs below let in.
type secured struct {
	su, alice, bob *server
	// ids are the topic ids su's Metadata gave, by name (each server picks its own).
	ids map[string][16]byte
}

// Names of TestSameAuthorizationAsKafka, each carrying the run's suffix.
var (
	deniedTopic   = named("acl-denied")   // alice: no ACL
	describeTopic = named("acl-describe") // alice: DESCRIBE
	probeTopic    = named("acl-probe")    // alice: DESCRIBE, granted last (see waitACLs)
	writeTopic    = named("acl-write")    // bob: WRITE
	// clusterDeleteTopic: bob may delete it through DELETE on the cluster alone.
	clusterDeleteTopic = named("acl-cluster-delete")
	// descPrefix: alice may DESCRIBE every topic starting with it (a PREFIXED ACL), and
	// create none.
	descPrefix   = named("acl-desc") + "-"
	deniedGroup  = named("acl-denied-group")  // alice: no ACL
	allowedGroup = named("acl-allowed-group") // alice: READ
	deniedTxnID  = named("acl-txn")           // alice: no ACL
)

// TestSameAuthorizationAsKafka sends the same denied (and a few allowed) requests to Apache
// Kafka with StandardAuthorizer and to kafscale with --authorizer, both with the same
// SASL/PLAIN users, super users (User:ANONYMOUS on the PLAINTEXT listener, User:admin) and
// ACLs, and wants the same facts (error codes per request, topic, partition, group) from
// both (issue 16, acceptance 4).
func TestSameAuthorizationAsKafka(t *testing.T) {
	kafka, kafscale := startSecuredServers(t)
	for _, sys := range []*secured{kafka, kafscale} {
		for _, topic := range []string{deniedTopic, describeTopic, probeTopic, writeTopic, clusterDeleteTopic} {
			createTopic(t, sys.su, topic, 1)
		}
		sys.ids = topicIDs(t, sys.su, deniedTopic, describeTopic)
		grant(t, sys.su, "User:alice", kmsg.ACLResourceTypeTopic, describeTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDescribe)
		grant(t, sys.su, "User:alice", kmsg.ACLResourceTypeTopic, descPrefix, kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationDescribe)
		grant(t, sys.su, "User:alice", kmsg.ACLResourceTypeGroup, allowedGroup, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationRead)
		grant(t, sys.su, "User:bob", kmsg.ACLResourceTypeTopic, writeTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationWrite)
		grant(t, sys.su, "User:bob", kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDelete)
		grant(t, sys.su, "User:alice", kmsg.ACLResourceTypeTopic, probeTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDescribe)
		waitACLs(t, sys)
	}
	for _, c := range aclCases() {
		t.Run(c.name, func(t *testing.T) {
			var got [2][]string
			for i, sys := range []*secured{kafka, kafscale} {
				if c.setup != nil {
					c.setup(t, sys)
				}
				as := sys.alice
				if c.bob {
					as = sys.bob
				}
				got[i] = facts(as, as.do(t, c.request(sys)))
				if c.unordered {
					slices.Sort(got[i])
				}
			}
			if !slices.Equal(got[0], got[1]) {
				t.Errorf("answers differ\nkafka:\n  %s\nkafscale:\n  %s", strings.Join(got[0], "\n  "), strings.Join(got[1], "\n  "))
				return
			}
			t.Logf("both:\n  %s", strings.Join(got[0], "\n  "))
		})
	}
}

// aclCase is one request sent as alice (or bob) to both servers.
type aclCase struct {
	name  string
	bob   bool
	setup func(t *testing.T, sys *secured)
	// request builds the request for the server (a fresh one each time).
	request func(sys *secured) kmsg.Request
	// unordered compares the facts as sets (a listing's order is the server's).
	unordered bool
}

func aclCases() []aclCase {
	unknownDenied := named("acl-unknown")
	unknownDescribable := descPrefix + "unknown"
	deleteByID := func(topic string) func(sys *secured) kmsg.Request {
		return func(sys *secured) kmsg.Request {
			req := deleteTopicsReq("")
			req.Topics[0].TopicID = sys.ids[topic]
			return req
		}
	}
	coordinator := func(t *testing.T, sys *secured) { waitGroupCoordinator(t, sys.su, allowedGroup) }
	return []aclCase{
		{name: "Produce to a denied topic", request: func(*secured) kmsg.Request { return produceReq(deniedTopic, 0) }},
		{name: "Produce to a topic alice may only describe", request: func(*secured) kmsg.Request { return produceReq(describeTopic, 0) }},
		{name: "Produce to an unknown topic alice may not describe", request: func(*secured) kmsg.Request { return produceReq(unknownDenied, 0) }},
		{name: "Fetch of a denied topic", request: func(*secured) kmsg.Request { return fetchReq(deniedTopic, 0, 0) }},
		{name: "Fetch of a topic alice may only describe", request: func(*secured) kmsg.Request { return fetchReq(describeTopic, 0, 0) }},
		{name: "Fetch of an unknown topic alice may not describe", request: func(*secured) kmsg.Request { return fetchReq(unknownDenied, 0, 0) }},
		{name: "ListOffsets of a denied topic", request: func(*secured) kmsg.Request { return listOffsetsReq(deniedTopic, 0, -1) }},
		{name: "ListOffsets of a topic alice may describe", request: func(*secured) kmsg.Request { return listOffsetsReq(describeTopic, 0, -1) }},

		{name: "Metadata of a denied topic", request: func(*secured) kmsg.Request { return metadataReq(false, deniedTopic) }},
		{name: "Metadata of a denied unknown topic with auto-create", request: func(*secured) kmsg.Request { return metadataReq(true, unknownDenied) }},
		{name: "Metadata of a describable unknown topic without auto-create", request: func(*secured) kmsg.Request { return metadataReq(false, unknownDescribable) }},
		{name: "Metadata of a describable unknown topic with auto-create but no CREATE", request: func(*secured) kmsg.Request { return metadataReq(true, unknownDescribable) }},
		{name: "Metadata of every topic lists the describable ones", unordered: true, request: func(*secured) kmsg.Request {
			req := metadataReq(false)
			req.Topics = nil
			return req
		}},

		{name: "CreateTopics without CREATE", request: func(*secured) kmsg.Request { return createTopicsReq(false, newTopic(named("acl-create"), 1, 1, nil)) }},
		{name: "DeleteTopics of a denied topic", request: func(*secured) kmsg.Request { return deleteTopicsReq(deniedTopic) }},
		{name: "DeleteTopics of a topic alice may only describe", request: func(*secured) kmsg.Request { return deleteTopicsReq(describeTopic) }},
		{name: "DeleteTopics of a describable unknown topic", request: func(*secured) kmsg.Request { return deleteTopicsReq(unknownDescribable) }},
		{name: "DeleteTopics of an unknown topic alice may not describe", request: func(*secured) kmsg.Request { return deleteTopicsReq(unknownDenied) }},
		{name: "DeleteTopics by id of a denied topic", request: deleteByID(deniedTopic)},
		{name: "DeleteTopics by id of a topic alice may only describe", request: deleteByID(describeTopic)},
		{name: "DeleteRecords of a denied topic", request: func(*secured) kmsg.Request { return deleteRecordsReq(deniedTopic, 0, 0) }},
		{name: "CreatePartitions of a denied topic", request: func(*secured) kmsg.Request { return createPartitionsReq(deniedTopic, 2) }},
		{name: "CreatePartitions of a topic alice may only describe", request: func(*secured) kmsg.Request { return createPartitionsReq(describeTopic, 2) }},
		{name: "DescribeConfigs of a denied topic", request: func(*secured) kmsg.Request {
			return describeConfigsReq(kmsg.ConfigResourceTypeTopic, deniedTopic, "retention.ms")
		}},
		{name: "DescribeConfigs of the broker", request: func(sys *secured) kmsg.Request {
			return describeConfigsReq(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(sys.su.nodeID)), "auto.create.topics.enable")
		}},
		{name: "IncrementalAlterConfigs of a denied topic", request: func(*secured) kmsg.Request {
			return incrementalAlterReq(deniedTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("3600000")})
		}},
		{name: "IncrementalAlterConfigs of a topic alice may only describe", request: func(*secured) kmsg.Request {
			return incrementalAlterReq(describeTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("3600000")})
		}},
		{name: "IncrementalAlterConfigs of the broker", request: func(sys *secured) kmsg.Request {
			req := incrementalAlterReq(strconv.Itoa(int(sys.su.nodeID)), alterConfigOp{"log.cleaner.threads", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1")})
			req.Resources[0].ResourceType = kmsg.ConfigResourceTypeBroker
			return req
		}},

		{name: "FindCoordinator of a denied group", request: func(*secured) kmsg.Request { return findCoordinatorReq(0, deniedGroup) }},
		{name: "FindCoordinator of a denied transactional id", request: func(*secured) kmsg.Request { return findCoordinatorReq(1, deniedTxnID) }},
		{name: "JoinGroup of a denied group", request: func(*secured) kmsg.Request { return joinGroupReq(deniedGroup) }},
		{name: "OffsetCommit to a denied group", request: func(*secured) kmsg.Request { return offsetCommitReq(deniedGroup, describeTopic) }},
		{name: "OffsetCommit to an allowed group for a topic alice may only describe", setup: coordinator, request: func(*secured) kmsg.Request {
			return offsetCommitReq(allowedGroup, describeTopic)
		}},
		{name: "OffsetCommit to an allowed group for a denied topic", setup: coordinator, request: func(*secured) kmsg.Request {
			return offsetCommitReq(allowedGroup, deniedTopic)
		}},
		{name: "OffsetFetch of a denied group, one partition", request: func(*secured) kmsg.Request { return offsetFetchReq(deniedGroup, describeTopic, 0) }},
		{name: "OffsetFetch of a denied group, all topics", request: func(*secured) kmsg.Request { return offsetFetchReq(deniedGroup, "", 0) }},
		{name: "OffsetFetch of an allowed group for a denied topic", setup: coordinator, request: func(*secured) kmsg.Request {
			return offsetFetchReq(allowedGroup, deniedTopic, 0)
		}},
		{name: "DescribeGroups of a denied group", request: func(*secured) kmsg.Request {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Version = 5
			req.Groups = []string{deniedGroup}
			return req
		}},
		{name: "DeleteGroups of a denied group", request: func(*secured) kmsg.Request {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Version = 2
			req.Groups = []string{deniedGroup}
			return req
		}},

		{name: "InitProducerId without IDEMPOTENT_WRITE or WRITE on a topic", request: func(*secured) kmsg.Request { return initProducerIDReq() }},
		{name: "InitProducerId with WRITE on a topic", bob: true, setup: func(t *testing.T, sys *secured) { waitProducerIDs(t, sys.su) },
			request: func(*secured) kmsg.Request { return initProducerIDReq() }},
		{name: "InitProducerId with a denied transactional id", request: func(*secured) kmsg.Request {
			req := initProducerIDReq()
			req.TransactionalID = kmsg.StringPtr(deniedTxnID)
			return req
		}},

		{name: "DescribeAcls without DESCRIBE on the cluster", request: func(*secured) kmsg.Request {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.Version = 3
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return req
		}},
		{name: "CreateAcls without ALTER on the cluster", request: func(*secured) kmsg.Request {
			return createACLsReq("User:alice", kmsg.ACLResourceTypeTopic, deniedTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationAll)
		}},
		{name: "DeleteAcls without ALTER on the cluster", request: func(*secured) kmsg.Request {
			req := kmsg.NewPtrDeleteACLsRequest()
			req.Version = 3
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			req.Filters = append(req.Filters, f)
			return req
		}},
		{name: "DescribeCluster without DESCRIBE on the cluster", request: func(*secured) kmsg.Request {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.Version = 1
			req.EndpointType = 1
			req.IncludeClusterAuthorizedOperations = true
			return req
		}},
		// Last: it deletes a topic.
		{name: "DeleteTopics with DELETE on the cluster alone", bob: true, request: func(*secured) kmsg.Request { return deleteTopicsReq(clusterDeleteTopic) }},
	}
}

// startSecuredServers starts Apache Kafka (StandardAuthorizer) and `kafscale dev`
// (--authorizer), each with a PLAINTEXT and a SASL_PLAINTEXT listener, the users aclUsers
// and the super users User:ANONYMOUS (the PLAINTEXT listener's principal, which Kafka's own
// controller and inter-broker traffic uses too) and User:admin.
func startSecuredServers(t *testing.T) (kafka, kafscale *secured) {
	t.Helper()
	users := filepath.Join(t.TempDir(), "users")
	var lines []string
	for u, p := range aclUsers {
		lines = append(lines, u+":"+p)
	}
	if err := os.WriteFile(users, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const superUsers = "User:ANONYMOUS;User:admin"
	in, sa := kafkatest.FreeAddr(t), kafkatest.FreeAddr(t)
	ks := testbroker.Launch(t, "--listeners", "INTERNAL://"+in+",SASL://"+sa,
		"--listener-security-protocol-map", "INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT",
		"--sasl-enabled-mechanisms", "PLAIN", "--sasl-plain-users-file", users,
		"--authorizer", "--super-users", superUsers)
	k := testinfra.StartKafka(t,
		testinfra.KafkaProperty("offsets.topic.num.partitions", "1"),
		testinfra.KafkaProperty("transaction.state.log.num.partitions", "1"),
		testinfra.KafkaProperty("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		testinfra.KafkaProperty("super.users", superUsers),
		testinfra.KafkaSASLPlain(aclUsers))
	ks.WaitReady(60 * time.Second)
	t.Cleanup(func() {
		for line := range strings.Lines(ks.LogTail(64 << 20)) {
			if strings.Contains(line, "BUG:") {
				t.Errorf("kafscale logged an internal error: %s", strings.TrimSpace(line))
			}
		}
	})
	return newSecured(t, "kafka", k.Addr, k.SASLAddr), newSecured(t, "kafscale", in, sa)
}

func newSecured(t *testing.T, name, plaintext, saslAddr string) *secured {
	t.Helper()
	login := func(user string) []kgo.Opt {
		return []kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: aclUsers[user]}.AsMechanism())}
	}
	sys := &secured{
		su:    &server{name: name, addr: plaintext, created: map[string]bool{}},
		alice: &server{name: name + " as alice", addr: saslAddr, created: map[string]bool{}, login: login("alice")},
		bob:   &server{name: name + " as bob", addr: saslAddr, created: map[string]bool{}, login: login("bob")},
	}
	req := metadataReq(false)
	resp := sys.su.do(t, req).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 {
		t.Fatalf("%s lists %d brokers, want 1", name, len(resp.Brokers))
	}
	for _, s := range []*server{sys.su, sys.alice, sys.bob} {
		s.nodeID = resp.Brokers[0].NodeID
	}
	return sys
}

// topicIDs returns the ids of topics, as s's Metadata gives them.
func topicIDs(t *testing.T, s *server, topics ...string) map[string][16]byte {
	t.Helper()
	resp := s.do(t, metadataReq(false, topics...)).(*kmsg.MetadataResponse)
	ids := map[string][16]byte{}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 || rt.Topic == nil {
			t.Fatalf("%s: Metadata of %v: %s", s.name, topics, errName(rt.ErrorCode))
		}
		ids[*rt.Topic] = rt.TopicID
	}
	return ids
}

// grant creates an ALLOW ACL from any host through s (a super user), failing t on an error.
func grant(t *testing.T, s *server, principal string, rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, op kmsg.ACLOperation) {
	t.Helper()
	resp := s.do(t, createACLsReq(principal, rt, name, pt, op)).(*kmsg.CreateACLsResponse)
	if code := resp.Results[0].ErrorCode; code != 0 {
		t.Fatalf("%s: cannot create the ACL %s %s %s %s: %s", s.name, principal, rt, name, op, errName(code))
	}
}

// waitACLs waits until alice may describe probeTopic: the ACL created last, so that every
// ACL before it applies too (Kafka applies ACL changes from its metadata log, kafscale
// from its etcd watch, each in order and after the creation is answered).
func waitACLs(t *testing.T, sys *secured) {
	t.Helper()
	waitFor(t, sys.alice, "alice's ACLs to apply", func() string {
		resp := sys.alice.do(t, metadataReq(false, probeTopic)).(*kmsg.MetadataResponse)
		if code := resp.Topics[0].ErrorCode; code != 0 {
			return errName(code)
		}
		return ""
	})
}

func createACLsReq(principal string, rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, op kmsg.ACLOperation) *kmsg.CreateACLsRequest {
	req := kmsg.NewPtrCreateACLsRequest()
	req.Version = 3
	cr := kmsg.NewCreateACLsRequestCreation()
	cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = rt, name, pt
	cr.Principal, cr.Host, cr.Operation, cr.PermissionType = principal, "*", op, kmsg.ACLPermissionTypeAllow
	req.Creations = append(req.Creations, cr)
	return req
}

// deleteTopicsReq deletes topic by name (v6); the caller may set an id instead.
func deleteTopicsReq(topic string) *kmsg.DeleteTopicsRequest {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	req.TimeoutMillis = 10000
	rt := kmsg.NewDeleteTopicsRequestTopic()
	if topic != "" {
		rt.Topic = kmsg.StringPtr(topic)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// createPartitionsReq asks CreatePartitions v3 to grow topic to count partitions.
func createPartitionsReq(topic string, count int32) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version = 3
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	req.Topics = append(req.Topics, rt)
	return req
}

// joinGroupReq joins group (v9) as a new member of a consumer group.
func joinGroupReq(group string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group = group
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	req.Protocols = append(req.Protocols, p)
	return req
}

// offsetCommitReq commits offset 0 of topic's partition 0 for group (v8) as a simple
// consumer (no generation, no member).
func offsetCommitReq(group, topic string) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 8
	req.Group, req.Generation, req.MemberID = group, -1, ""
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
