package fsck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
	"github.com/kafscale/kafscale/internal/testinfra"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/segment"
)

// TestRebuildKeepsSegmentsMarkedCompacted: a segment log compaction wrote carries
// segment.FlagCompacted in its footer, and a rebuild restores it as compacted even when no
// gap between its chunks or before it shows it. Compaction here leaves its gaps inside one
// chunk (the first record's key is never written again, so the segment starts at offset 0;
// the data fits one chunk), which the older inference from gaps took for an uncompacted
// segment: compaction would then have rewritten it again, and delete.retention.ms would
// have counted from the rebuild. Consumers of the rebuilt log see the latest value of
// each key at its offset.
func TestRebuildKeepsSegmentsMarkedCompacted(t *testing.T) {
	const topic = "users"
	s := startStores(t)
	args := append(append([]string(nil), brokerArgs...), "--gc-interval", "300ms", "--gc-grace", "2s", "--flush-attempt-timeout", "1s")
	b := testbroker.StartBroker(t, s.etcd.Endpoints(), s.s3, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := admin(t, b.Addr)
	str := func(v string) *string { return &v }
	if resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": str("compact"), "min.cleanable.dirty.ratio": str("0.01")}, topic); err != nil || resp.Err != nil {
		t.Fatalf("cannot create %s: %v %v", topic, err, resp.Err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	latest := map[string]string{} // key -> value@offset; values name their key
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		for _, r := range res {
			latest[string(r.Record.Key)] = fmt.Sprintf("%s@%d", r.Record.Value, r.Record.Offset)
		}
	}
	produce(&kgo.Record{Topic: topic, Key: []byte("first"), Value: []byte("kept")})
	for round := range 4 {
		var recs []*kgo.Record
		for k := range 40 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%02d", k), Value: fmt.Appendf(nil, "k%02d=v%d-%s", k, round, strings.Repeat("x", 100))})
		}
		produce(recs...)
	}
	produce(&kgo.Record{Topic: topic, Key: []byte("last"), Value: []byte("end")})

	// Wait for a compacted segment starting at offset 0 and for GC to delete the segments
	// it replaced, so that the bucket holds one copy of each offset range.
	var flagged string
	kafkatest.WaitUntil(t, 90*time.Second, "a compacted segment from offset 0, the replaced ones deleted", func() error {
		objs, err := s.st.List(ctx, segment.SegmentPrefix)
		if err != nil {
			return err
		}
		flagged = ""
		for _, o := range objs {
			f, err := segment.ReadFooter(ctx, s.st, o.Key)
			if err != nil {
				return err
			}
			if f.Extents[0].BaseOffset == 0 {
				if !f.Compacted() {
					return fmt.Errorf("segment %s from offset 0 is not compacted (yet, or not deleted yet)", o.Key)
				}
				flagged = o.Key
			}
		}
		if flagged == "" {
			return errors.New("no segment from offset 0 yet")
		}
		return nil
	})
	f, err := segment.ReadFooter(ctx, s.st, flagged)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Extents) != 1 || f.Extents[0].BaseOffset != 0 || f.Extents[0].Batches < 2 {
		t.Fatalf("compacted segment %s has extents %+v, want one chunk from offset 0 with gaps inside (the premise of this test)", flagged, f.Extents)
	}
	t.Logf("compacted segment %s: one chunk, offsets %d-%d, %d batches", flagged, f.Extents[0].BaseOffset, f.Extents[0].LastOffset, f.Extents[0].Batches)
	b.Kill()

	fresh := testinfra.StartEtcd(t)
	r := runFsck(t, s, fresh.Endpoints(), "--rebuild", "--json")
	if r.code != 0 || !r.report.Healthy() {
		t.Fatalf("rebuild: exit %d, problems %+v\n%s%s", r.code, r.report.Problems, r.stdout, r.stderr)
	}
	rebuilt := etcdMeta(t, fresh)
	mt, err := rebuilt.GetTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := rebuilt.ListSegments(ctx, [16]byte(mt.Id), 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sg := range segs {
		if sg.Key == flagged {
			found = true
			if sg.CompactedUnixMs <= 0 {
				t.Errorf("segment %s, marked compacted in its footer, was restored as uncompacted", sg.Key)
			}
		}
	}
	if !found {
		t.Fatalf("segment %s is not among the restored segments %v", flagged, segs)
	}

	b2 := testbroker.StartBroker(t, fresh.Endpoints(), s.s3, args...)
	var got, want []string
	for _, rec := range kafkatest.ReadAll(t, b2.Addr, topic, 1) {
		got = append(got, fmt.Sprintf("%s@%d", rec.Value, rec.Offset))
	}
	for _, v := range latest {
		want = append(want, v)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after the rebuild the log holds %d records %v, want the latest value of each key, %d: %v", len(got), got, len(want), want)
	}
}

// etcdMeta connects to an etcd server's metadata.
func etcdMeta(t *testing.T, e *testinfra.Etcd) *meta.Store {
	t.Helper()
	cli, err := meta.NewClient(e.Endpoints(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return meta.New(cli, meta.DefaultConfig(), nil)
}
