package compaction

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestKill9WhileCompactingLosesNoLatestValue guards issue 13's acceptance 7 for compaction:
// an idempotent producer writes keyed records and tombstones to a compacted topic while
// merging, compaction and GC run with small segments and a short grace, and the broker is
// killed with kill -9 at random times (the seed is logged; KAFSCALE_TEST_SEED replays it).
// Every record read back must be one acknowledged at that offset; once compaction caught
// up, each partition holds exactly the latest acknowledged record of each key (tombstones
// gone after delete.retention.ms), and nothing acknowledged and still retained is lost.
func TestKill9WhileCompactingLosesNoLatestValue(t *testing.T) {
	rng := kafkatest.SeededRand(t)

	p := testbroker.Start(t, "--flush-interval", "10ms", "--merge-bytes", "32768", "--merge-chunk-bytes", "4096",
		"--merge-age", "200ms", "--merge-interval", "100ms", "--gc-interval", "200ms", "--gc-grace", "2s",
		"--flush-attempt-timeout", "1s", "--checkpoint-interval", "500ms", "--tail-bytes", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 170*time.Second)
	defer cancel()
	const topic, partitions, keys = "cdc", 2, 150
	setup, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	resp, err := kadm.NewClient(setup).CreateTopic(ctx, partitions, -1, map[string]*string{
		"cleanup.policy": str("compact"), "min.cleanable.dirty.ratio": str("0.01"), "delete.retention.ms": str("1000"),
	}, topic)
	setup.Close()
	if err != nil || resp.Err != nil {
		t.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
	}

	// The producer retries through each kill (idempotent, no delivery timeout), so every
	// record it sends is acknowledged exactly once: the latest per key is known.
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acked := make([]map[int64]entry, partitions) // per partition: offset -> record
	latest := make([]map[string]entry, partitions)
	for i := range partitions {
		acked[i], latest[i] = map[int64]entry{}, map[string]entry{}
	}
	produceRound := func(seq int) {
		var recs []*kgo.Record
		for range 40 {
			part := int32(rng.IntN(partitions))
			key := fmt.Sprintf("k%03d", rng.IntN(keys))
			r := &kgo.Record{Topic: topic, Partition: part, Key: []byte(key)}
			if rng.IntN(10) > 0 {
				r.Value = fmt.Appendf(nil, "%s-%d-%0200d", key, seq, 0)
			}
			recs = append(recs, r)
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, pr := range res {
			e := entry{offset: pr.Record.Offset, key: string(pr.Record.Key), value: string(pr.Record.Value), null: pr.Record.Value == nil}
			if old, ok := acked[pr.Record.Partition][e.offset]; ok {
				t.Fatalf("offset %d of partition %d acknowledged twice: %v and %v", e.offset, pr.Record.Partition, old, e)
			}
			acked[pr.Record.Partition][e.offset] = e
			if cur, ok := latest[pr.Record.Partition][e.key]; !ok || cur.offset < e.offset {
				latest[pr.Record.Partition][e.key] = e
			}
		}
	}
	kills := 0
	deadline := time.Now().Add(25 * time.Second)
	nextKill := time.Now().Add(time.Duration(1500+rng.IntN(2500)) * time.Millisecond)
	for seq := 0; time.Now().Before(deadline); seq++ {
		produceRound(seq)
		if time.Now().After(nextKill) {
			p.Kill()
			p.Restart()
			kills++
			nextKill = time.Now().Add(time.Duration(1500+rng.IntN(2500)) * time.Millisecond)
		}
	}
	// A live record ends each partition, so that a reader knows where it ends.
	ends := make([]int64, partitions)
	for part := range int32(partitions) {
		res := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: part, Key: []byte("end"), Value: []byte("end")})
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		e := entry{offset: res[0].Record.Offset, key: "end", value: "end"}
		acked[part][e.offset], latest[part]["end"] = e, e
		ends[part] = e.offset + 1
	}
	total := 0
	for part := range partitions {
		total += len(acked[part])
	}
	t.Logf("%d records acknowledged over %d kill -9 restarts", total, kills)

	for part := range int32(partitions) {
		var want []entry
		for _, e := range latest[part] {
			if !e.null {
				want = append(want, e)
			}
		}
		slices.SortFunc(want, func(a, b entry) int { return int(a.offset - b.offset) })
		var got []entry
		kafkatest.WaitUntil(t, 90*time.Second, fmt.Sprintf("partition %d to hold exactly the latest value of each key", part), func() error {
			got = readPartition(t, ctx, p.Addr, topic, part, ends[part])
			for _, g := range got {
				if a, ok := acked[part][g.offset]; !ok || a != g {
					t.Fatalf("partition %d serves %v, acknowledged there: %v (found %t)", part, g, a, ok)
				}
			}
			have := map[int64]bool{}
			for _, g := range got {
				have[g.offset] = true
			}
			for _, w := range want {
				if !have[w.offset] {
					t.Fatalf("partition %d lost the latest acknowledged record of %s: %v", part, w.key, w)
				}
			}
			if len(got) != len(want) {
				return fmt.Errorf("%d records read, want %d (superseded records or tombstones not compacted yet)", len(got), len(want))
			}
			return nil
		})
		t.Logf("partition %d: %d records acknowledged, %d read after compaction", part, len(acked[part]), len(got))
	}
	m, err := p.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := kafkatest.MetricValue(m, "kafscale_compaction_segments_replaced_total"); v <= 0 {
		t.Errorf("no segment replaced by compaction in the last incarnation (%v)", v)
	}
}
