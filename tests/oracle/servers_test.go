// Package oracle sends the same Kafka requests to Apache Kafka (a real KRaft node the test
// starts, internal/testinfra.StartKafka) and to `kafscale dev`, and compares the answers:
// error codes per topic and partition and selected fields. When Kafka's behaviour is the
// question, Kafka answers it. Where KafScale answers differently on purpose or for now, the
// case is left out of the table and docs/oracle.md says why.
package oracle

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
)

// requestTimeout bounds one request, including the client's dial and ApiVersions.
const requestTimeout = 15 * time.Second

// server is one broker under comparison. Used by the test goroutine.
type server struct {
	name   string // "kafka" or "kafscale"
	addr   string
	nodeID int32 // as its Metadata names it
	// created are the topics ensureTopic created.
	created map[string]bool
	// login are client options every request is sent with (a SASL login); none: the
	// server's PLAINTEXT listener, as User:ANONYMOUS.
	login []kgo.Opt
}

// startServers starts Apache Kafka and `kafscale dev`, overlapping their starts (the JVM's
// is the longer), both stopped when t ends. kafscale's log must hold no "BUG:" line then.
func startServers(t *testing.T) (kafka, kafscale *server) {
	t.Helper()
	begin := time.Now()
	ks := testbroker.Launch(t)
	// One partition for each coordinator topic: Kafka creates it on the first lookup and
	// loads it before it answers for a group or transactional id; one loads sooner than 50.
	k := testinfra.StartKafka(t,
		testinfra.KafkaProperty("offsets.topic.num.partitions", "1"),
		testinfra.KafkaProperty("transaction.state.log.num.partitions", "1"))
	ks.WaitReady(60 * time.Second)
	t.Logf("kafka %s and kafscale %s ready %s after the start", k.Addr, ks.Addr, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		for line := range strings.Lines(ks.LogTail(64 << 20)) {
			if strings.Contains(line, "BUG:") {
				t.Errorf("kafscale logged an internal error: %s", strings.TrimSpace(line))
			}
		}
	})
	kafka = &server{name: "kafka", addr: k.Addr, created: map[string]bool{}}
	kafscale = &server{name: "kafscale", addr: ks.Addr, created: map[string]bool{}}
	for _, s := range []*server{kafka, kafscale} {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp := s.do(t, req).(*kmsg.MetadataResponse)
		if len(resp.Brokers) != 1 {
			t.Fatalf("%s lists %d brokers, want 1", s.name, len(resp.Brokers))
		}
		s.nodeID = resp.Brokers[0].NodeID
	}
	return kafka, kafscale
}

// do sends req to the server at exactly req's version (the client may neither raise nor
// lower it) and returns the response. The client is seeded with the server alone and the
// request goes to that seed, so no routing or retry of the client's stands between the
// request and the server's answer.
func (s *server) do(t *testing.T, req kmsg.Request) kmsg.Response {
	t.Helper()
	version := req.GetVersion()
	maxV := kversion.Stable()
	maxV.SetMaxKeyVersion(req.Key(), version)
	minV := new(kversion.Versions)
	minV.SetMaxKeyVersion(req.Key(), version)
	opts := append([]kgo.Opt{kgo.SeedBrokers(s.addr), kgo.MaxVersions(maxV), kgo.MinVersions(minV), kgo.ClientID("kafscale-oracle")}, s.login...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("cannot make a client for %s: %v", s.name, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req) // what each kmsg request's RequestWith does
	if err != nil {
		t.Fatalf("%s %s v%d: %v", s.name, kmsg.NameForKey(req.Key()), version, err)
	}
	if req.GetVersion() != version {
		t.Fatalf("%s %s sent at v%d, pinned v%d", s.name, kmsg.NameForKey(req.Key()), req.GetVersion(), version)
	}
	return resp
}

// errName names a Kafka error code: NONE, or kerr's name and the code.
func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	var ke *kerr.Error
	if err := kerr.ErrorForCode(code); errors.As(err, &ke) {
		return fmt.Sprintf("%s(%d)", ke.Message, code)
	}
	return fmt.Sprintf("error(%d)", code)
}

// runID is this run's random suffix: names of topics, groups and transactional ids carry
// it so that no two runs meet.
var runID = func() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// named returns a name unique to this run.
func named(what string) string { return "oracle-" + what + "-" + runID }

// ---- set-up steps, which must succeed on both servers ----

// createTopic creates topic with partitions (CreateTopics v7), failing t on an error.
func createTopic(t *testing.T, s *server, topic string, partitions int32) {
	t.Helper()
	resp := s.do(t, createTopicsReq(false, newTopic(topic, partitions, 1, nil))).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("%s: cannot create %s: %s", s.name, topic, errName(code))
	}
}

// ensureTopic creates topic with partitions unless an earlier case did.
func ensureTopic(t *testing.T, s *server, topic string, partitions int32) {
	t.Helper()
	if s.created[topic] {
		return
	}
	createTopic(t, s, topic, partitions)
	s.created[topic] = true
}

// waitFor polls step every 50 ms until it returns "", failing t with its last answer after
// 30 s.
func waitFor(t *testing.T, s *server, what string, step func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		last := step()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: still %s after 30 s", s.name, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCoordinator waits until FindCoordinator v3 finds a coordinator for key: Kafka
// creates __consumer_offsets or __transaction_state on the first lookup and answers
// COORDINATOR_NOT_AVAILABLE until it is loaded.
func waitCoordinator(t *testing.T, s *server, keyType int8, key string) {
	t.Helper()
	waitFor(t, s, "FindCoordinator "+key, func() string {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version = 3
		req.CoordinatorType, req.CoordinatorKey = keyType, key
		resp := s.do(t, req).(*kmsg.FindCoordinatorResponse)
		if resp.ErrorCode != 0 {
			return errName(resp.ErrorCode)
		}
		return ""
	})
}

// waitGroupCoordinator waits until the coordinator of group answers for it: Kafka's says
// NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS while it loads its __consumer_offsets
// partition, after FindCoordinator already names it.
func waitGroupCoordinator(t *testing.T, s *server, group string) {
	t.Helper()
	waitCoordinator(t, s, 0, group)
	waitFor(t, s, "DescribeGroups "+group, func() string {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version = 5
		req.Groups = []string{group}
		resp := s.do(t, req).(*kmsg.DescribeGroupsResponse)
		switch code := resp.Groups[0].ErrorCode; code {
		case kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code:
			return errName(code)
		}
		return ""
	})
}

// waitProducerIDs waits until InitProducerId without a transactional id succeeds: Kafka's
// broker answers COORDINATOR_LOAD_IN_PROGRESS until the controller has given it its first
// block of producer ids, which the first request asks for.
func waitProducerIDs(t *testing.T, s *server) {
	t.Helper()
	waitFor(t, s, "InitProducerId", func() string {
		resp := s.do(t, initProducerIDReq()).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode == kerr.CoordinatorLoadInProgress.Code {
			return errName(resp.ErrorCode)
		}
		return ""
	})
}

// waitTopic waits until Metadata (without auto-creation) answers topic without an error.
func waitTopic(t *testing.T, s *server, topic string) {
	t.Helper()
	waitFor(t, s, "Metadata "+topic, func() string {
		resp := s.do(t, metadataReq(false, topic)).(*kmsg.MetadataResponse)
		if code := resp.Topics[0].ErrorCode; code != 0 {
			return errName(code)
		}
		return ""
	})
}

// ---- requests ----

// newTopic is one CreateTopics entry.
func newTopic(name string, partitions int32, rf int16, configs map[string]string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for k, v := range configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, rc)
	}
	return rt
}

func createTopicsReq(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 10000
	req.ValidateOnly = validateOnly
	req.Topics = topics
	return req
}

func metadataReq(autoCreate bool, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.AllowAutoTopicCreation = autoCreate
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func listOffsetsReq(topic string, partition int32, timestamp int64) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, timestamp, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchReq fetches one partition by name (v12) without waiting.
func fetchReq(topic string, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset = partition, offset
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produceReq produces one record to topic/partition (Produce v9, acks=all).
func produceReq(topic string, partition int32) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = oneRecordBatch([]byte("oracle"))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// incrementalAlterReq asks IncrementalAlterConfigs v1 to apply ops (name, op, value
// triples; a nil value for DELETE) to one topic.
func incrementalAlterReq(topic string, ops ...alterConfigOp) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version = 1
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	for _, o := range ops {
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = o.name, o.op, o.value
		rr.Configs = append(rr.Configs, rc)
	}
	req.Resources = append(req.Resources, rr)
	return req
}

// alterConfigOp is one change of incrementalAlterReq.
type alterConfigOp struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

// deleteRecordsReq asks DeleteRecords v2 to move one partition's log start to offset.
func deleteRecordsReq(topic string, partition int32, offset int64) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version = 2
	req.TimeoutMillis = 10000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func describeConfigsReq(resourceType kmsg.ConfigResourceType, name string, configs ...string) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = 4
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = resourceType, name
	rr.ConfigNames = configs
	req.Resources = append(req.Resources, rr)
	return req
}

// offsetFetchReq asks for a group's offsets (v8): of topic's partition, or all if topic is
// "".
func offsetFetchReq(group, topic string, partition int32) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	if topic != "" {
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = topic, []int32{partition}
		rg.Topics = append(rg.Topics, rt)
	}
	req.Groups = append(req.Groups, rg)
	return req
}

// initProducerIDReq asks for an idempotent producer id (v4, no transactional id).
func initProducerIDReq() *kmsg.InitProducerIDRequest {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	req.TransactionTimeoutMillis = 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	return req
}

// findCoordinatorReq looks up key (v4, a batch of one key).
func findCoordinatorReq(keyType int8, key string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 4
	req.CoordinatorType = keyType
	req.CoordinatorKeys = []string{key}
	return req
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// oneRecordBatch returns a v2 record batch of one record with value, no producer id.
func oneRecordBatch(value []byte) []byte {
	now := time.Now().UnixMilli()
	var rec []byte
	rec = append(rec, 0)              // attributes
	rec = binary.AppendVarint(rec, 0) // timestamp delta
	rec = binary.AppendVarint(rec, 0) // offset delta
	rec = binary.AppendVarint(rec, -1)
	rec = binary.AppendVarint(rec, int64(len(value)))
	rec = append(rec, value...)
	rec = binary.AppendVarint(rec, 0) // headers
	records := binary.AppendVarint(nil, int64(len(rec)))
	records = append(records, rec...)
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              records,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], crc32c))
	return out
}
