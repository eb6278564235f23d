package protofuzz

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGenerateEveryKey builds requests of every key and version kmsg knows, and checks
// that each encodes to a frame of a bounded size and that generation is deterministic.
func TestGenerateEveryKey(t *testing.T) {
	start := time.Now()
	bm, err := makeBombs()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bombs: gzip %d bytes, zstd %d bytes, built in %s", len(bm.gzip), len(bm.zstd), time.Since(start))
	r := &run{cfg: Config{Seed: 7, MutateRatio: 0.3}, bombs: bm, pool: &pool{topics: []string{"a"}, groups: []string{"g"}}, apis: map[int16][2]int16{}}
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		if req := kmsg.RequestForKey(k); req != nil {
			r.apis[k] = [2]int16{0, req.MaxVersion()}
			r.keys = append(r.keys, k)
		}
	}
	w := &worker{run: r}
	start = time.Now()
	var total, largest int
	const n = 1000
	for i := range uint64(n) {
		it := w.build(i)
		total += len(it.frame)
		largest = max(largest, len(it.frame))
		if again := w.build(i); string(again.frame) != string(it.frame) {
			t.Fatalf("request %d is not deterministic", i)
		}
	}
	t.Logf("%d requests (each built twice) in %s, %d bytes on average, largest %d", n, time.Since(start), total/n, largest)
	if largest > 16<<20 {
		t.Errorf("largest frame %d bytes, want at most 16 MiB", largest)
	}
}
