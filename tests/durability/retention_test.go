package durability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestRetentionByTimeAndSize guards issue 13's acceptance 1: with retention.ms, records
// whose extents are older than it stop being served and the log start moves past them;
// with retention.bytes, the oldest extents go while the rest still holds that many bytes;
// what is kept reads back intact; a topic without limits keeps everything; the moved log
// starts survive a restart.
func TestRetentionByTimeAndSize(t *testing.T) {
	p := testbroker.Start(t, "--flush-interval", "50ms", "--merge-interval", "300ms", "--merge-age", "1s",
		"--gc-interval", "300ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s", "--checkpoint-interval", "1s",
		"--retention-check-interval", "200ms")
	adm := kadm.NewClient(newClient(t, p.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	create := func(topic string, configs map[string]*string) {
		resp, err := adm.CreateTopic(ctx, 1, -1, configs, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
		}
	}
	str := func(s string) *string { return &s }
	create("by-time", map[string]*string{"retention.ms": str("1500")})
	create("by-size", map[string]*string{"retention.bytes": str("20000")})
	create("kept", nil)

	cl := kafkatest.NewNonIdempotentProducer(t, p.Addr, kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 1000)
	produce := func(topic string, n int) int64 {
		var last int64
		for i := range n {
			r := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(value[:0:0], "%s-%d-%s", topic, i, value[:980])})
			if err := r.FirstErr(); err != nil {
				t.Fatalf("produce to %s: %v", topic, err)
			}
			last = r[0].Record.Offset
		}
		return last
	}
	oldEnd := produce("by-time", 20) + 1
	produce("kept", 20)
	produce("by-size", 60) // 60 records of ~1 KiB, one flush object each

	earliest := func(topic string) int64 {
		offs, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup(topic, 0)
		return o.Offset
	}
	// Once the first records are older than retention.ms, new ones arrive: the old go,
	// down to the newest extent at most.
	kafkatest.WaitUntil(t, 30*time.Second, "retention.ms to drop the first 20 records of by-time", func() error {
		produce("by-time", 1)
		if got := earliest("by-time"); got < oldEnd {
			return fmt.Errorf("log start %d, want >= %d", got, oldEnd)
		}
		return nil
	})
	var sizeStart int64
	kafkatest.WaitUntil(t, 30*time.Second, "retention.bytes to move by-size's log start", func() error {
		if sizeStart = earliest("by-size"); sizeStart == 0 {
			return fmt.Errorf("log start still 0")
		}
		return nil
	})
	if kept := 60 - sizeStart; kept*1000 < 20000 {
		t.Errorf("retention.bytes 20000 kept %d records of ~1 KiB: it deleted below the limit", kept)
	}
	if got := earliest("kept"); got != 0 {
		t.Errorf("a topic without retention limits has log start %d", got)
	}
	t.Logf("by-time log start %d (first %d records expired), by-size log start %d of 60", earliest("by-time"), oldEnd, sizeStart)

	p.Term(30 * time.Second)
	p.Restart()
	adm = kadm.NewClient(newClient(t, p.Addr))
	if got := earliest("by-size"); got < sizeStart {
		t.Errorf("after a restart by-size's log start is %d, was %d", got, sizeStart)
	}
	read := kafkatest.ReadAll(t, p.Addr, "by-size", 1)
	if len(read) == 0 || read[0].Offset < sizeStart {
		t.Fatalf("by-size reads %d records from %v, want them from %d", len(read), firstOffset(read), sizeStart)
	}
	for i, r := range read {
		if want := fmt.Sprintf("by-size-%d-", r.Offset); string(r.Value[:len(want)]) != want {
			t.Fatalf("by-size record %d at offset %d holds %q", i, r.Offset, r.Value[:20])
		}
	}
}
