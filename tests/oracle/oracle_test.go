package oracle

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// oracleCase is one request sent to both servers, after set-up steps that must succeed on
// both.
type oracleCase struct {
	name string
	// setup prepares the server (creates a topic, waits for a coordinator); may be nil.
	setup func(t *testing.T, s *server)
	// request builds the request for the server (a fresh one each time: the client sets
	// fields of it).
	request func(s *server) kmsg.Request
}

// Names shared by several cases; each carries the run's suffix.
var (
	dupTopic      = named("dup")
	emptyTopic    = named("empty")
	validateTopic = named("validate-only")
	autoTopic     = named("auto")
	unknownTopic  = named("unknown")
	group         = named("group")
	txnID         = named("txn") // only looked up: KafScale has no transactions yet
	// unknownTopicID names no topic on either server.
	unknownTopicID = [16]byte{0x6f, 0x72, 0x61, 0x63, 0x6c, 0x65, 15: 1}
)

func cases() []oracleCase {
	create := func(validateOnly bool, topic kmsg.CreateTopicsRequestTopic) func(*server) kmsg.Request {
		return func(*server) kmsg.Request { return createTopicsReq(validateOnly, topic) }
	}
	empty := func(t *testing.T, s *server) { ensureTopic(t, s, emptyTopic, 1) }
	return []oracleCase{
		// CreateTopics v7.
		{name: "CreateTopics name with a slash", request: create(false, newTopic("bad/name"+runID, 1, 1, nil))},
		{name: "CreateTopics name ..", request: create(false, newTopic("..", 1, 1, nil))},
		{name: "CreateTopics name of 250 characters", request: create(false, newTopic(runID+strings.Repeat("x", 250-len(runID)), 1, 1, nil))},
		{name: "CreateTopics name of 249 characters", request: create(true, newTopic(runID+strings.Repeat("y", 249-len(runID)), 1, 1, nil))},
		{
			name:    "CreateTopics of an existing topic",
			setup:   func(t *testing.T, s *server) { createTopic(t, s, dupTopic, 1) },
			request: create(false, newTopic(dupTopic, 1, 1, nil)),
		},
		{name: "CreateTopics with 0 partitions", request: create(false, newTopic(named("zero"), 0, 1, nil))},
		{name: "CreateTopics with -2 partitions", request: create(false, newTopic(named("minus2"), -2, 1, nil))},
		{name: "CreateTopics with an unknown config", request: create(false, newTopic(named("badconfig"), 1, 1, map[string]string{"no.such.config": "1"}))},
		{name: "CreateTopics with a bad config value", request: create(false, newTopic(named("badvalue"), 1, 1, map[string]string{"retention.ms": "soon"}))},
		{name: "CreateTopics with a name twice", request: func(*server) kmsg.Request {
			return createTopicsReq(false, newTopic(named("twice"), 1, 1, nil), newTopic(named("twice"), 1, 1, nil))
		}},
		{name: "CreateTopics validateOnly", request: create(true, newTopic(validateTopic, 3, 1, nil))},
		// differs: a replication factor above the broker count, by design (see docs/oracle.md).
		{name: "Metadata after validateOnly knows no topic", request: func(*server) kmsg.Request { return metadataReq(false, validateTopic) }},

		// DeleteTopics v6.
		{name: "DeleteTopics of an unknown topic", request: func(*server) kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.Version = 6
			req.TimeoutMillis = 10000
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(unknownTopic)
			req.Topics = append(req.Topics, rt)
			return req
		}},
		{name: "DeleteTopics of an unknown topic id", request: func(*server) kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.Version = 6
			req.TimeoutMillis = 10000
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.TopicID = unknownTopicID
			req.Topics = append(req.Topics, rt)
			return req
		}},

		// Metadata v12.
		{name: "Metadata of an unknown topic", request: func(*server) kmsg.Request { return metadataReq(false, unknownTopic) }},
		// differs: the first answer to Metadata with auto-create (see docs/oracle.md); the
		// set-up sends it, and the case compares the created topic.
		{
			name: "Metadata of an auto-created topic",
			setup: func(t *testing.T, s *server) {
				s.do(t, metadataReq(true, autoTopic))
				waitTopic(t, s, autoTopic)
			},
			request: func(*server) kmsg.Request { return metadataReq(false, autoTopic) },
		},

		// ListOffsets v7.
		{name: "ListOffsets of an unknown topic", request: func(*server) kmsg.Request { return listOffsetsReq(unknownTopic, 0, -1) }},
		{name: "ListOffsets of an unknown partition", setup: empty, request: func(*server) kmsg.Request { return listOffsetsReq(emptyTopic, 99, -1) }},
		{name: "ListOffsets latest of an empty partition", setup: empty, request: func(*server) kmsg.Request { return listOffsetsReq(emptyTopic, 0, -1) }},
		{name: "ListOffsets earliest of an empty partition", setup: empty, request: func(*server) kmsg.Request { return listOffsetsReq(emptyTopic, 0, -2) }},
		{name: "ListOffsets max timestamp of an empty partition", setup: empty, request: func(*server) kmsg.Request { return listOffsetsReq(emptyTopic, 0, -3) }},
		{name: "ListOffsets by timestamp on an empty partition", setup: empty, request: func(*server) kmsg.Request { return listOffsetsReq(emptyTopic, 0, 0) }},

		// Fetch v12.
		{name: "Fetch past the end", setup: empty, request: func(*server) kmsg.Request { return fetchReq(emptyTopic, 0, 5) }},
		{name: "Fetch of an unknown topic", request: func(*server) kmsg.Request { return fetchReq(unknownTopic, 0, 0) }},
		{name: "Fetch of an unknown topic id", request: func(*server) kmsg.Request {
			req := fetchReq("", 0, 0)
			req.Version = 13
			req.Topics[0].TopicID = unknownTopicID
			return req
		}},

		// Produce v9.
		{name: "Produce to an unknown topic", request: func(*server) kmsg.Request { return produceReq(unknownTopic, 0) }},
		{name: "Produce to partition 99", setup: empty, request: func(*server) kmsg.Request { return produceReq(emptyTopic, 99) }},

		// DeleteRecords v2 (on the empty partition: its log start and high watermark are 0).
		{name: "DeleteRecords to the high watermark of an empty partition", setup: empty, request: func(*server) kmsg.Request { return deleteRecordsReq(emptyTopic, 0, -1) }},
		{name: "DeleteRecords to offset 0 of an empty partition", setup: empty, request: func(*server) kmsg.Request { return deleteRecordsReq(emptyTopic, 0, 0) }},
		{name: "DeleteRecords past the high watermark", setup: empty, request: func(*server) kmsg.Request { return deleteRecordsReq(emptyTopic, 0, 5) }},
		{name: "DeleteRecords to offset -2", setup: empty, request: func(*server) kmsg.Request { return deleteRecordsReq(emptyTopic, 0, -2) }},
		{name: "DeleteRecords of partition 99", setup: empty, request: func(*server) kmsg.Request { return deleteRecordsReq(emptyTopic, 99, 0) }},
		{name: "DeleteRecords of an unknown topic", request: func(*server) kmsg.Request { return deleteRecordsReq(unknownTopic, 0, 0) }},

		// IncrementalAlterConfigs v1 on the empty topic.
		{name: "IncrementalAlterConfigs SET retention.ms", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("3600000")})
		}},
		{name: "IncrementalAlterConfigs APPEND to cleanup.policy", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, kmsg.StringPtr("compact")})
		}},
		{name: "IncrementalAlterConfigs DELETE of an override", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"cleanup.policy", kmsg.IncrementalAlterConfigOpDelete, nil})
		}},
		{name: "IncrementalAlterConfigs of an unknown config", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"no.such.config", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1")})
		}},
		{name: "IncrementalAlterConfigs with a bad value", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("soon")})
		}},
		{name: "IncrementalAlterConfigs APPEND to a non-list config", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpAppend, kmsg.StringPtr("1")})
		}},
		{name: "IncrementalAlterConfigs naming a config twice", setup: empty, request: func(*server) kmsg.Request {
			return incrementalAlterReq(emptyTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1")},
				alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("2")})
		}},
		{name: "IncrementalAlterConfigs of an unknown topic", request: func(*server) kmsg.Request {
			return incrementalAlterReq(unknownTopic, alterConfigOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1")})
		}},

		// DescribeConfigs v4.
		{name: "DescribeConfigs of an unknown topic", request: func(*server) kmsg.Request {
			return describeConfigsReq(kmsg.ConfigResourceTypeTopic, unknownTopic)
		}},
		{name: "DescribeConfigs of the broker for auto.create.topics.enable", request: func(s *server) kmsg.Request {
			return describeConfigsReq(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(s.nodeID)), "auto.create.topics.enable")
		}},
		// differs: the source of num.partitions, which server.properties sets to its default
		// and kafscale dev leaves at it (see docs/oracle.md).
		{name: "DescribeConfigs of the broker for an unknown name", request: func(s *server) kmsg.Request {
			return describeConfigsReq(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(s.nodeID)), "no.such.config")
		}},

		// OffsetFetch v8.
		{
			name:    "OffsetFetch of an unknown group, all topics",
			setup:   func(t *testing.T, s *server) { waitGroupCoordinator(t, s, group) },
			request: func(*server) kmsg.Request { return offsetFetchReq(group, "", 0) },
		},
		{
			name:    "OffsetFetch of an unknown group, one partition",
			setup:   func(t *testing.T, s *server) { waitGroupCoordinator(t, s, group); empty(t, s) },
			request: func(*server) kmsg.Request { return offsetFetchReq(group, emptyTopic, 0) },
		},

		// DescribeGroups v5.
		{
			name:  "DescribeGroups of an unknown group",
			setup: func(t *testing.T, s *server) { waitGroupCoordinator(t, s, group) },
			request: func(*server) kmsg.Request {
				req := kmsg.NewPtrDescribeGroupsRequest()
				req.Version = 5
				req.Groups = []string{group}
				return req
			},
		},

		// FindCoordinator v4.
		{
			name:    "FindCoordinator of an empty group id",
			setup:   func(t *testing.T, s *server) { waitCoordinator(t, s, 0, group) },
			request: func(*server) kmsg.Request { return findCoordinatorReq(0, "") },
		},
		{
			name:    "FindCoordinator of an empty transactional id",
			setup:   func(t *testing.T, s *server) { waitCoordinator(t, s, 1, txnID) },
			request: func(*server) kmsg.Request { return findCoordinatorReq(1, "") },
		},

		// InitProducerId v4.
		{
			name:    "InitProducerId without a transactional id",
			setup:   waitProducerIDs,
			request: func(*server) kmsg.Request { return initProducerIDReq() },
		},
		// differs: InitProducerId with a transactional id; KafScale has no transactions yet
		// (see docs/oracle.md).
	}
}

// TestSameAnswersAsKafka sends each case's request to Apache Kafka and to kafscale and
// wants the same facts (facts_test.go) from both.
func TestSameAnswersAsKafka(t *testing.T) {
	kafka, kafscale := startServers(t)
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			var got [2][]string
			for i, s := range []*server{kafka, kafscale} {
				if c.setup != nil {
					c.setup(t, s)
				}
				got[i] = facts(s, s.do(t, c.request(s)))
			}
			if !slices.Equal(got[0], got[1]) {
				t.Errorf("answers differ\nkafka:\n  %s\nkafscale:\n  %s", strings.Join(got[0], "\n  "), strings.Join(got[1], "\n  "))
				return
			}
			t.Logf("both:\n  %s", strings.Join(got[0], "\n  "))
		})
	}
	// Last: the quota's throttles slow only its own client id, but take seconds.
	t.Run("request_percentage throttles ApiVersions and Metadata", func(t *testing.T) {
		var got [2]string
		for i, s := range []*server{kafka, kafscale} {
			got[i] = requestQuotaThrottles(t, s)
		}
		if got[0] != got[1] {
			t.Errorf("answers differ\nkafka:    %s\nkafscale: %s", got[0], got[1])
			return
		}
		t.Logf("both: %s", got[0])
	})
}
