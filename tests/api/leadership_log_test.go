package api

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// leadershipLines returns the broker's "partition taken over" and "partition resigned"
// lines after mark that name topic, waiting until want of them are there.
func leadershipLines(t *testing.T, log func() string, topic string, want int) []string {
	t.Helper()
	var lines []string
	kafkatest.WaitUntil(t, 10*time.Second, fmt.Sprintf("%d leadership lines for %s", want, topic), func() error {
		lines = lines[:0]
		for line := range strings.Lines(log()) {
			if strings.Contains(line, "topic="+topic+" ") && (strings.Contains(line, `msg="partition taken over"`) || strings.Contains(line, `msg="partition resigned"`)) {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		if len(lines) < want {
			return fmt.Errorf("%d lines so far:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		return nil
	})
	return lines
}

var leaderEpochAttr = regexp.MustCompile(`leader_epoch=(\d+)`)

// TestLeadershipChangesAreLogged checks that each partition a broker starts or stops
// leading gets one log line with its leader epoch: at creation, after a restart (a new
// epoch) and at deletion; produces add none.
func TestLeadershipChangesAreLogged(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	mark := logMark(b)
	since := func() string { return b.LogTail(256 << 20)[mark:] }
	createTopic(t, c, topic, 2, nil)
	for range 20 {
		produceOK(t, c, topic, 0, batchOf(2, 10))
	}
	lines := leadershipLines(t, since, topic, 2)
	epochs := map[string]int{}
	for _, l := range lines {
		if !strings.Contains(l, `msg="partition taken over"`) {
			t.Errorf("after creation: %s", l)
		}
		m := leaderEpochAttr.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("no leader_epoch in %s", l)
		}
		for _, p := range []string{"partition=0 ", "partition=1 "} {
			if strings.Contains(l, p) {
				epochs[p], _ = strconv.Atoi(m[1])
			}
		}
	}
	if len(lines) != 2 || len(epochs) != 2 {
		t.Fatalf("after creating 2 partitions and 20 produces, want one line per partition:\n%s", strings.Join(lines, "\n"))
	}

	// A restart takes each partition over again at a higher epoch.
	b.Term(30 * time.Second)
	mark = logMark(b)
	b.Restart()
	lines = leadershipLines(t, since, topic, 2)
	for _, l := range lines {
		m := leaderEpochAttr.FindStringSubmatch(l)
		if !strings.Contains(l, `msg="partition taken over"`) || m == nil {
			t.Fatalf("after a restart: %s", l)
		}
		for p, before := range epochs {
			if e, _ := strconv.Atoi(m[1]); strings.Contains(l, p) && e <= before {
				t.Errorf("after a restart %s is taken over at epoch %d, was %d: %s", p, e, before, l)
			}
		}
	}

	mark = logMark(b)
	c = dial(ctx, t, b.Addr)
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version = 6
	dtt := kmsg.NewDeleteTopicsRequestTopic()
	dtt.Topic = kmsg.StringPtr(topic)
	dt.Topics = append(dt.Topics, dtt)
	dt.TimeoutMillis = 30000
	wantCode(t, "DeleteTopics", c.do(dt).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode, nil)
	lines = leadershipLines(t, since, topic, 2)
	for _, l := range lines {
		if !strings.Contains(l, `msg="partition resigned"`) || !strings.Contains(l, `reason="topic deleted"`) || !leaderEpochAttr.MatchString(l) {
			t.Errorf("after deletion: %s", l)
		}
	}
	if len(lines) != 2 {
		t.Errorf("after deleting 2 partitions, want 2 lines:\n%s", strings.Join(lines, "\n"))
	}
}
