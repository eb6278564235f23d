package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests here pin answers that tests/oracle found to differ from Apache Kafka 4.4's and
// that were changed to Kafka's; they run without a JVM.

// TestCreateTopicsValidateOnlyAnswersATopicID guards against a zero topic id in a
// validate_only answer: Kafka's controller draws the id before it validates and answers it.
func TestCreateTopicsValidateOnlyAnswersATopicID(t *testing.T) {
	b := startBroker(t)
	c := dial(testContext(t), t, b.Addr)
	name := topicName(t)
	rr := createOne(t, c, 7, true, newTopicReq{name: name, partitions: 1, rf: 1})
	wantCode(t, "CreateTopics validate_only", rr.ErrorCode, nil)
	if rr.TopicID == [16]byte{} {
		t.Fatal("CreateTopics validate_only answers the zero topic id")
	}
	wantAbsent(t, c, name)
}

// TestCreateTopicsAnswersARepeatedNameOnce guards against one answer per occurrence of a
// name given twice: Kafka answers INVALID_REQUEST once for the name.
func TestCreateTopicsAnswersARepeatedNameOnce(t *testing.T) {
	b := startBroker(t)
	c := dial(testContext(t), t, b.Addr)
	name, other := topicName(t), topicName(t)
	nt := newTopicReq{name: name, partitions: 1, rf: 1}
	resp := c.do(createTopicsReq(7, false, nt, newTopicReq{name: other, partitions: 1, rf: 1}, nt)).(*kmsg.CreateTopicsResponse)
	got := map[string][]int16{}
	for _, rt := range resp.Topics {
		got[rt.Topic] = append(got[rt.Topic], rt.ErrorCode)
	}
	if len(resp.Topics) != 2 || len(got[name]) != 1 || got[name][0] != kerr.InvalidRequest.Code || len(got[other]) != 1 || got[other][0] != 0 {
		t.Fatalf("CreateTopics of %s twice and %s answers %v; want INVALID_REQUEST once for the first, NONE for the second", name, other, got)
	}
	wantAbsent(t, c, name)
}

// TestListOffsetsWithoutARecordHasNoLeaderEpoch guards against the current leader epoch in
// an answer that found no record (-3 or a timestamp on an empty partition): Kafka answers
// offset -1, timestamp -1, leader epoch -1.
func TestListOffsetsWithoutARecordHasNoLeaderEpoch(t *testing.T) {
	b := startBroker(t)
	c := dial(testContext(t), t, b.Addr)
	name := topicName(t)
	createTopic(t, c, name, 1, nil)
	for _, ts := range []int64{-3, 0, 4102444800000} {
		p := listOffset(t, c, 8, name, 0, ts)
		wantCode(t, "ListOffsets", p.ErrorCode, nil)
		if p.Offset != -1 || p.Timestamp != -1 || p.LeaderEpoch != -1 {
			t.Errorf("ListOffsets %d of an empty partition answers offset %d timestamp %d leader epoch %d; want -1 for each", ts, p.Offset, p.Timestamp, p.LeaderEpoch)
		}
	}
	// A found record keeps its epoch.
	produceOK(t, c, name, 0, batchOf(1, 10))
	if p := listOffset(t, c, 8, name, 0, -3); p.Offset != 0 || p.LeaderEpoch < 0 {
		t.Errorf("ListOffsets -3 after one record answers offset %d leader epoch %d; want 0 and an epoch", p.Offset, p.LeaderEpoch)
	}
}
