package durability

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestKill9WhileRetentionAndGCRun guards issue 13's acceptance 7 for retention: an
// idempotent producer writes to a topic with retention.bytes while merging, retention and
// GC run with small segments and a short grace, and the broker is killed with kill -9 at
// random times (seed logged; KAFSCALE_TEST_SEED replays it). Afterwards each partition reads
// from its log start to its end without a gap, every record read is the one acknowledged at
// its offset, nothing acknowledged at or above the log start is missing, and the bucket's
// bytes come down to what retention keeps (counted in the store's directory).
func TestKill9WhileRetentionAndGCRun(t *testing.T) {
	rng := kafkatest.SeededRand(t)

	p := testbroker.Start(t, "--flush-interval", "10ms", "--merge-bytes", "32768", "--merge-chunk-bytes", "4096",
		"--merge-age", "200ms", "--merge-interval", "100ms", "--gc-interval", "200ms", "--gc-grace", "2s",
		"--flush-attempt-timeout", "1s", "--checkpoint-interval", "500ms", "--retention-check-interval", "200ms", "--tail-bytes", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 170*time.Second)
	defer cancel()
	const topic, partitions, keep = "kept-recent", 2, 65536
	setup := newClient(t, p.Addr)
	resp, err := kadm.NewClient(setup).CreateTopic(ctx, partitions, -1, map[string]*string{"retention.bytes": kadm.StringPtr(strconv.Itoa(keep))}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acked := make([]map[int64]string, partitions)
	for i := range acked {
		acked[i] = map[int64]string{}
	}
	var produced int64
	kills := 0
	deadline := time.Now().Add(20 * time.Second)
	nextKill := time.Now().Add(time.Duration(1500+rng.IntN(2500)) * time.Millisecond)
	for seq := 0; time.Now().Before(deadline); seq++ {
		var recs []*kgo.Record
		for i := range 40 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(rng.IntN(partitions)), Value: fmt.Appendf(nil, "%d-%d-%0300d", seq, i, 0)})
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, r := range res {
			if old, ok := acked[r.Record.Partition][r.Record.Offset]; ok {
				t.Fatalf("offset %d of partition %d acknowledged twice (%q, then %q)", r.Record.Offset, r.Record.Partition, old, r.Record.Value)
			}
			acked[r.Record.Partition][r.Record.Offset] = string(r.Record.Value)
			produced += int64(len(r.Record.Value))
		}
		if time.Now().After(nextKill) {
			p.Kill()
			p.Restart()
			kills++
			nextKill = time.Now().Add(time.Duration(1500+rng.IntN(2500)) * time.Millisecond)
		}
	}
	t.Logf("%d bytes of values acknowledged over %d kill -9 restarts", produced, kills)

	// Retention and GC bring the bucket down to what the partitions keep: retention.bytes
	// each, plus the newest extent (never deleted), unmerged data and objects within grace.
	bound := int64(partitions*(keep+32768)) + 1<<20
	var stored int64
	kafkatest.WaitUntil(t, 60*time.Second, "retention and GC to bring the bucket down", func() error {
		stored = dirBytes(t, filepath.Join(p.DataDir, "objects"))
		if stored > bound {
			return fmt.Errorf("%d bytes in the bucket, want <= %d", stored, bound)
		}
		return nil
	})
	t.Logf("bucket: %d bytes after retention and GC (bound %d; %d produced)", stored, bound, produced)

	read := kafkatest.ReadAll(t, p.Addr, topic, partitions)
	// Retention keeps running: the log starts are read after the records, so that every
	// acknowledged offset at or above them was still retained while they were read.
	adm := kadm.NewClient(newClient(t, p.Addr))
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	byPart := make([]map[int64]string, partitions)
	for i := range byPart {
		byPart[i] = map[int64]string{}
	}
	for _, r := range read {
		if want, ok := acked[r.Partition.Partition][r.Offset]; !ok || want != string(r.Value) {
			t.Fatalf("partition %d serves %q at offset %d, acknowledged there: %q (%t)", r.Partition.Partition, r.Value[:12], r.Offset, want[:min(len(want), 12)], ok)
		}
		byPart[r.Partition.Partition][r.Offset] = string(r.Value)
	}
	for part := range int32(partitions) {
		o, _ := starts.Lookup(topic, part)
		if o.Offset == 0 {
			t.Errorf("partition %d: retention.bytes %d never moved the log start", part, keep)
		}
		for off := range acked[part] {
			if off >= o.Offset {
				if _, ok := byPart[part][off]; !ok {
					t.Fatalf("partition %d lost offset %d, acknowledged and above the log start %d", part, off, o.Offset)
				}
			}
		}
		t.Logf("partition %d: log start %d, %d records kept of %d acknowledged", part, o.Offset, len(byPart[part]), len(acked[part]))
	}
}

// dirBytes sums the sizes of the files under dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // deleted meanwhile
			}
			return err
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
