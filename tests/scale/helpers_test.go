// Package scale measures and bounds what a broker costs per partition (issue 19 finding 6,
// issue 20 point 6) against a real `kafscale dev` process built without the race detector.
package scale

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/testbroker"
)

// topicMix returns partition counts of topics holding n partitions in all, as a fuzzer or
// a real user creates them: half the partitions in single-partition topics, a quarter in
// topics of 10, the rest in a few large topics of up to 1,000.
func topicMix(n int) []int32 {
	var out []int32
	for range n / 2 {
		out = append(out, 1)
	}
	for range n / 4 / 10 {
		out = append(out, 10)
	}
	left := n - sum(out)
	for left > 0 {
		c := min(left, 1000)
		out = append(out, int32(c))
		left -= c
	}
	return out
}

func sum(s []int32) int {
	n := 0
	for _, v := range s {
		n += int(v)
	}
	return n
}

// createTopics creates topics named prefix-<i> with the given partition counts, batch
// topics per CreateTopics request, and returns the per-topic errors' first one.
func createTopics(ctx context.Context, adm *kadm.Client, prefix string, counts []int32) error {
	const batch = 200
	for i := 0; i < len(counts); {
		// One request per partition count, as CreateTopics takes one count per call.
		c := counts[i]
		var names []string
		for ; i < len(counts) && counts[i] == c && len(names) < batch; i++ {
			names = append(names, fmt.Sprintf("%s-%d", prefix, i))
		}
		resps, err := adm.CreateTopics(ctx, c, 1, nil, names...)
		if err != nil {
			return err
		}
		if err := resps.Error(); err != nil {
			return err
		}
	}
	return nil
}

// produceOneEach sends one small record to every partition of the topics.
func produceOneEach(ctx context.Context, addr, prefix string, counts []int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, c := range counts {
		for p := range c {
			recs = append(recs, &kgo.Record{Topic: fmt.Sprintf("%s-%d", prefix, i), Partition: p, Value: []byte("hello, partition")})
		}
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// memory is what a broker process uses.
type memory struct {
	RSS       int64 // VmRSS
	Anon      int64 // RssAnon: RSS without file pages (embedded etcd's mapped database)
	HeapInuse int64 // go_memstats_heap_inuse_bytes
	Sys       int64 // go_memstats_sys_bytes
}

func (m memory) String() string {
	return fmt.Sprintf("RSS %.1f MiB (anonymous %.1f MiB), heap in use %.1f MiB, Go sys %.1f MiB",
		float64(m.RSS)/(1<<20), float64(m.Anon)/(1<<20), float64(m.HeapInuse)/(1<<20), float64(m.Sys)/(1<<20))
}

// readMemory reads the broker's RSS and Go memory statistics.
func readMemory(ctx context.Context, b *testbroker.Process) (memory, error) {
	var m memory
	rss, err := b.RSS()
	if err != nil {
		return m, err
	}
	m.RSS = rss
	if m.Anon, err = rssAnon(b.Pid()); err != nil {
		return m, err
	}
	text, err := b.Metrics(ctx)
	if err != nil {
		return m, err
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = int64(v)
		case "go_memstats_sys_bytes":
			m.Sys = int64(v)
		}
	}
	return m, nil
}

// settledMemory waits for the broker's heap to settle (two readings a second apart within
// 1%) and returns the last reading.
func settledMemory(t *testing.T, ctx context.Context, b *testbroker.Process) memory {
	t.Helper()
	var last memory
	for i := range 20 {
		m, err := readMemory(ctx, b)
		if err != nil {
			t.Fatalf("cannot read the broker's memory: %v", err)
		}
		if i > 0 && abs(m.HeapInuse-last.HeapInuse) < last.HeapInuse/100 {
			return m
		}
		last = m
		time.Sleep(time.Second)
	}
	return last
}

// rssAnon returns RssAnon of /proc/<pid>/status: resident memory the process holds, without
// the file pages it maps (which the kernel may drop; embedded etcd maps its database).
func rssAnon(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("cannot parse RssAnon line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cannot parse RssAnon line %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/%d/status", pid)
}

func abs(v int64) int64 { return max(v, -v) }
