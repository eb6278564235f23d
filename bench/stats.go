package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// Linux architecture Go supports (the kernel's exported value, independent of CONFIG_HZ).
const clockTicks = 100

// procCPU returns the user+system CPU seconds of pid.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its ')' are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat: %w", pid, err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// procMem returns VmRSS and VmHWM (peak RSS) of pid in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot parse %s of /proc/%d/status: %q", k, pid, v)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// scrape reads a Prometheus text exposition into series -> value, keyed by the series as
// written (name plus labels, e.g. `x_total{op="put"}`).
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot scrape %s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads Prometheus text into series values by full name (labels included).
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// snapshot is what a broker has done so far, read at one edge of the measured window.
type snapshot struct {
	at      time.Time
	cpu     float64            // CPU seconds; NaN without a process
	metrics map[string]float64 // nil without /metrics
	etcdRev int64              // etcd revision; -1 without etcd
}

// prober reads a broker's counters: its process from /proc, its /metrics, its etcd.
type prober struct {
	pid        int
	metricsURL string
	etcd       *clientv3.Client

	maxRSS atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newProber(pid int, metricsURL, etcdURL string) (*prober, error) {
	p := &prober{pid: pid, metricsURL: metricsURL}
	if etcdURL != "" {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdURL}, DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("cannot connect to etcd at %s: %w", etcdURL, err)
		}
		p.etcd = cli
	}
	return p, nil
}

func (p *prober) close() {
	if p.etcd != nil {
		p.etcd.Close()
	}
}

func (p *prober) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), cpu: math.NaN(), etcdRev: -1}
	var errs []error
	if p.pid > 0 {
		cpu, err := procCPU(p.pid)
		errs = append(errs, err)
		s.cpu = cpu
	}
	if p.metricsURL != "" {
		m, err := scrape(ctx, p.metricsURL)
		errs = append(errs, err)
		s.metrics = m
	}
	if p.etcd != nil {
		// Any read returns the store's revision, which every write transaction bumps by one.
		r, err := p.etcd.Get(ctx, "kbench-revision-probe")
		if err == nil {
			s.etcdRev = r.Header.Revision
		}
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// sampleRSS records the largest VmRSS, every 100 ms, until stopRSS.
func (p *prober) sampleRSS() {
	if p.pid <= 0 {
		return
	}
	p.stop = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := procMem(p.pid); err == nil && rss > p.maxRSS.Load() {
				p.maxRSS.Store(rss)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	})
}

func (p *prober) stopRSS() {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
}

// Series read from kafscale's /metrics. Each request count below is a lower bound of the
// requests of its kind; the largest of them over the window is reported. A broker that
// counts every store's requests (kafscale_object_requests_total, since 2026-12-03) gives the
// exact count; the others stay for brokers built before it: the simulated store's own count
// under s3sim, the S3 client's under MinIO or S3, and the flush and cache counters under a
// local directory.
var (
	putSeries = [][]string{
		{`kafscale_object_requests_total{op="put"}`},
		{`kafscale_sim_s3_requests_total{op="put"}`},
		{`kafscale_s3_upload_duration_ms_count`},
		{`kafscale_flush_objects_total`, `kafscale_merge_segments_total`},
	}
	getSeries = [][]string{
		{`kafscale_object_requests_total{op="get"}`},
		{`kafscale_sim_s3_requests_total{op="get"}`},
		{`kafscale_s3_download_duration_ms_count`},
		{`kafscale_cache_misses_total`},
	}
	etcdCommitSeries = `kafscale_etcd_commit_duration_ms_count`
	// hedgeSeries counts the PUTs that hedged a slow flush-object PUT (brokers since
	// 2026-12-03), a share of putSeries' count.
	hedgeSeries = `kafscale_flush_upload_hedges_total`
)

// delta returns the largest increase over a, b of any group's sum, and whether any group's
// series exist.
func delta(a, b map[string]float64, groups [][]string) (float64, bool) {
	best, found := 0.0, false
	for _, g := range groups {
		var sum float64
		for _, name := range g {
			vb, ok := b[name]
			if !ok {
				continue
			}
			found = true
			sum += vb - a[name]
		}
		best = max(best, sum)
	}
	return best, found
}

// selfCPU measures this process's CPU use over the clock's window, as a percentage of one
// core; the returned function waits for the window's end.
func selfCPU(clk *clock) func() float64 {
	pid := os.Getpid()
	done := make(chan float64, 1)
	go func() {
		time.Sleep(time.Until(clk.winStart))
		a, errA := procCPU(pid)
		t0 := time.Now()
		time.Sleep(time.Until(clk.winEnd))
		b, errB := procCPU(pid)
		if errA != nil || errB != nil {
			done <- math.NaN()
			return
		}
		done <- 100 * (b - a) / time.Since(t0).Seconds()
	}()
	return func() float64 { return <-done }
}
