package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestAdminActionsAreLogged (issue 14, acceptance 6): each administrative change is one log
// line naming the topic and the client; producing records adds none.
func TestAdminActionsAreLogged(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	mark := logMark(b)
	createTopic(t, c, topic, 1, nil)
	for range 50 {
		produceOK(t, c, topic, 0, batchOf(2, 10))
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = topic, 2
	cp.Topics = append(cp.Topics, cpt)
	cp.TimeoutMillis = 30000
	wantCode(t, "CreatePartitions", c.do(cp).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode, nil)
	wantCode(t, "IncrementalAlterConfigs", incrementalAlter(t, c, kmsg.ConfigResourceTypeTopic, topic, false,
		alterOp("retention.ms", kmsg.IncrementalAlterConfigOpSet, "3600000")), nil)
	wantCode(t, "DeleteRecords", deleteRecords(t, c, 2, topic, 0, 10).ErrorCode, nil)
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version = 6
	dtt := kmsg.NewDeleteTopicsRequestTopic()
	dtt.Topic = kmsg.StringPtr(topic)
	dt.Topics = append(dt.Topics, dtt)
	dt.TimeoutMillis = 30000
	wantCode(t, "DeleteTopics", c.do(dt).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode, nil)

	msgs := []string{`msg="topic created"`, `msg="partitions added"`, `msg="topic configs changed"`,
		`msg="records deleted: log start moved"`, `msg="topic deleted"`}
	var lines []string
	// The broker's output reaches the test through a pipe: wait for the last line.
	kafkatest.WaitUntil(t, 10*time.Second, "the log line of the last action", func() error {
		lines = lines[:0]
		for line := range strings.Lines(b.LogTail(256 << 20)[mark:]) {
			// Leadership lines (one per partition taken over or resigned) have their own
			// test, TestLeadershipChangesAreLogged.
			if strings.Contains(line, topic) && !strings.Contains(line, `msg="partition `) {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		if !strings.Contains(strings.Join(lines, "\n"), msgs[len(msgs)-1]) {
			return fmt.Errorf("no %s yet", msgs[len(msgs)-1])
		}
		return nil
	})
	for _, msg := range msgs {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, msg) {
				n++
				if !strings.Contains(l, "client_id=") || !strings.Contains(l, "remote=127.0.0.1:") {
					t.Errorf("%s does not name the client: %s", msg, l)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d lines with %s, want 1; lines naming the topic:\n%s", n, msg, strings.Join(lines, "\n"))
		}
	}
	if len(lines) > 8 {
		t.Errorf("%d log lines name the topic after 50 produces and 5 admin actions, want about 5 (no line per record):\n%s", len(lines), strings.Join(lines, "\n"))
	}
}
