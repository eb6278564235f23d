package topicmetrics

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func scrape() string {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	return b.String()
}

// The tests share the package's one set; each uses topic names of its own.

func TestTopicsPastTheLimitShareOther(t *testing.T) {
	Configure(Config{MaxTopics: 2})
	defer Configure(DefaultConfig())
	defer Forget("limit-a")
	defer Forget("limit-b")
	For("limit-a").BytesIn.Add(10)
	For("limit-b").BytesIn.Add(20)
	before := other.BytesIn.Get()
	if tr := For("limit-c"); tr != other {
		t.Fatal("a third topic got series of its own past MaxTopics 2")
	}
	For("limit-c").BytesIn.Add(5)
	if got := other.BytesIn.Get() - before; got != 5 {
		t.Errorf("(other) counted %d bytes, want 5", got)
	}
	s := scrape()
	for _, want := range []string{`kafscale_topic_bytes_in_total{topic="limit-a"} 10`, `kafscale_topic_bytes_in_total{topic="limit-b"} 20`, `kafscale_topic_records_out_total{topic="(other)"}`} {
		if !strings.Contains(s, want) {
			t.Errorf("scrape lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, `topic="limit-c"`) {
		t.Errorf("limit-c has series past the limit:\n%s", s)
	}

	// Deleting a topic removes its series and makes room.
	Forget("limit-a")
	if s := scrape(); strings.Contains(s, `topic="limit-a"`) {
		t.Errorf("a deleted topic's series stay:\n%s", s)
	}
	if tr := For("limit-c"); tr == other {
		t.Error("a topic still counted under (other) after a deletion made room")
	}
	Forget("limit-c")
}

func TestCountRecordsReadsEveryBatchHeader(t *testing.T) {
	batch := func(n int32, size int) []byte {
		b := make([]byte, size)
		binary.BigEndian.PutUint32(b[8:], uint32(size-12))
		b[16] = 2
		binary.BigEndian.PutUint32(b[57:], uint32(n))
		return b
	}
	run := append(append(batch(3, 70), batch(5, 100)...), batch(9, 80)[:30]...) // the last one cut short
	if got := CountRecords(run); got != 8 {
		t.Errorf("CountRecords = %d, want 8", got)
	}
	if got := CountRecords(nil); got != 0 {
		t.Errorf("CountRecords(nil) = %d", got)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	if err := (Config{MaxTopics: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "--metrics-max-topics") {
		t.Errorf("Validate = %v", err)
	}
}
