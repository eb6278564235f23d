// Package protofuzz is a structure-aware fuzzer of the Kafka protocol, run against a real
// broker process over loopback (issue 19). Each request is a kmsg request of a key and
// version the broker advertises (sometimes one it does not, or an unknown key), filled
// with random values by a reflective walk of kmsg's structs (gen.go): empty and 40,000-byte
// strings, boundary integers, long arrays, null and non-null nullable fields, record
// batches with valid CRCs around garbage records, gzip and zstd bombs (records.go). About
// 30% of frames are mutated after encoding (mutate.go). Many connections run at once.
//
// Every answer is decoded with kmsg at the version the request's header names (wire.go);
// a malformed answer, an answer to a request that gets none, or no answer at all from an
// API that never waits is a Finding. A closed connection is a valid answer to bad input
// and is counted. Canary records produced with acks=all before the run must be intact
// after it (canary.go). Each request's randomness comes from (seed, worker, index) only,
// so a finding is regenerated with Config.Replay; its frame is also reported in hex.
//
// The broker's log (BUG: lines, panics), its RSS and its shutdown are the caller's to
// check (ScanLog helps); see tests/fuzz and its kfuzz command.
package protofuzz

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config says what to fuzz and for how long.
type Config struct {
	// Addr is the broker's Kafka listener (host:port, loopback).
	Addr string
	// Seed makes the run reproducible: request (worker w, index i) depends only on Seed,
	// w, i and the broker's topic ids.
	Seed uint64
	// Conns is the number of concurrent connections (workers).
	Conns int
	// Requests stops the run after this many fuzzed requests (0: no bound).
	Requests int64
	// Duration stops the run after this long (0: no bound).
	Duration time.Duration
	// MutateRatio is the share of frames mutated after encoding.
	MutateRatio float64
	// Canaries is the number of canary records produced before the run.
	Canaries int
	// ResponseTimeout is how long an answer may take; longer is a finding for APIs that
	// never wait, and is counted for those that may (Produce, Fetch, JoinGroup ...).
	ResponseTimeout time.Duration
	// RSS, if set, is sampled twice a second; above RSSLimit is a finding.
	RSS      func() (int64, error)
	RSSLimit int64
	// Replay, if set, sends only these requests (from an earlier run's findings), one at
	// a time, instead of a run.
	Replay []RequestID
	// Logf receives progress lines (nil: none).
	Logf func(format string, args ...any)
}

// DefaultConfig returns the settings of a long run.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:9092",
		Conns:           16,
		MutateRatio:     0.3,
		Canaries:        2000,
		ResponseTimeout: 20 * time.Second,
	}
}

// RequestID names one generated request: worker and index within the worker.
type RequestID struct {
	Worker int
	Index  uint64
}

func (id RequestID) String() string { return fmt.Sprintf("%d:%d", id.Worker, id.Index) }

// ParseRequestID parses "worker:index".
func ParseRequestID(s string) (RequestID, error) {
	var id RequestID
	if _, err := fmt.Sscanf(s, "%d:%d", &id.Worker, &id.Index); err != nil {
		return id, fmt.Errorf("cannot parse request id %q (want worker:index): %w", s, err)
	}
	return id, nil
}

// Finding is one failure.
type Finding struct {
	Kind    string // malformed response, unexpected response, no response, canary, rss
	API     string
	Key     int16
	Version int16
	Mutated bool
	ID      RequestID
	Detail  string
	Frame   []byte // the request as sent, size prefix included
}

// maxHexBytes bounds the request bytes a finding prints; Replay regenerates the rest.
const maxHexBytes = 4 << 10

func (f Finding) String() string {
	if f.API == "" {
		return fmt.Sprintf("%s: %s", f.Kind, f.Detail)
	}
	h := hex.EncodeToString(f.Frame[:min(len(f.Frame), maxHexBytes)])
	if len(f.Frame) > maxHexBytes {
		h += fmt.Sprintf("... (%d bytes; -replay %s regenerates it)", len(f.Frame), f.ID)
	}
	return fmt.Sprintf("%s: %s v%d (key %d, mutated %t), request %s: %s\n  request: %s",
		f.Kind, f.API, f.Version, f.Key, f.Mutated, f.ID, f.Detail, h)
}

// Report is a run's outcome.
type Report struct {
	Seed      uint64
	Requests  int64 // fuzzed requests sent
	Answered  int64 // answered and decoded
	Closed    int64 // connections the broker closed (bad input)
	TimedOut  int64 // waiting APIs that did not answer within ResponseTimeout
	NoAnswer  int64 // produce requests that got none (acks=0)
	Mutated   int64
	Unadverts int64 // requests of keys or versions the broker does not advertise
	PerAPI    map[string]int64
	Findings  []Finding // the first maxFindings
	Total     int64     // findings in all
	RSSPeak   int64
	Canaries  int
	Elapsed   time.Duration
}

// maxFindings bounds the findings a report keeps.
const maxFindings = 200

// Summary is a multi-line account of the report.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d requests in %s (%.0f/s), %d answered, %d connections closed by the broker, %d timed out (waiting APIs), %d unanswered produce (acks=0), %d mutated, %d unadvertised key or version; %d canary records intact; RSS peak %d MiB; %d findings\n",
		r.Seed, r.Requests, r.Elapsed.Round(time.Second), float64(r.Requests)/max(r.Elapsed.Seconds(), 0.001),
		r.Answered, r.Closed, r.TimedOut, r.NoAnswer, r.Mutated, r.Unadverts, r.Canaries, r.RSSPeak>>20, r.Total)
	names := make([]string, 0, len(r.PerAPI))
	for n := range r.PerAPI {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("requests per API:")
	for _, n := range names {
		fmt.Fprintf(&b, " %s=%d", n, r.PerAPI[n])
	}
	b.WriteString("\n")
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteString("\n")
	}
	return b.String()
}

// waits lists the APIs whose answer may legitimately take longer than ResponseTimeout:
// they wait for timeouts the request sets, for rebalances, or for much etcd work.
var waits = map[int16]bool{
	int16(kmsg.Produce): true, int16(kmsg.Fetch): true, int16(kmsg.JoinGroup): true,
	int16(kmsg.SyncGroup): true, int16(kmsg.CreateTopics): true, int16(kmsg.DeleteTopics): true,
	int16(kmsg.CreatePartitions): true, int16(kmsg.Metadata): true,
}

// run is one fuzzing run's shared state.
type run struct {
	cfg     Config
	pool    *pool
	bombs   *bombs
	apis    map[int16][2]int16 // advertised key -> min, max version
	keys    []int16            // advertised keys, sorted
	others  []int16            // keys kmsg knows that the broker does not advertise
	tickets atomic.Int64
	stop    atomic.Bool

	mu     sync.Mutex
	report Report
}

// Run fuzzes the broker at cfg.Addr and returns its report; an error means the run itself
// could not proceed (the broker unreachable at the start, canaries not produced).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	d := DefaultConfig()
	if cfg.Conns <= 0 {
		cfg.Conns = d.Conns
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = d.ResponseTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	start := time.Now()
	bm, err := makeBombs()
	if err != nil {
		return nil, fmt.Errorf("cannot build compression bombs: %w", err)
	}
	r := &run{cfg: cfg, bombs: bm}
	r.report.Seed = cfg.Seed
	r.report.PerAPI = make(map[string]int64)
	admin, err := newAdmin(cfg.Addr)
	if err != nil {
		return nil, err
	}
	defer admin.close()
	if r.apis, err = admin.apiVersions(); err != nil {
		return nil, err
	}
	for k := range r.apis {
		r.keys = append(r.keys, k)
	}
	slices.Sort(r.keys)
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		if _, ok := r.apis[k]; !ok && kmsg.RequestForKey(k) != nil {
			r.others = append(r.others, k)
		}
	}
	if r.pool, err = admin.makePool(cfg.Seed); err != nil {
		return nil, err
	}
	var canary *canaries
	if cfg.Canaries > 0 {
		if canary, err = admin.produceCanaries(cfg.Seed, cfg.Canaries); err != nil {
			return nil, err
		}
		cfg.Logf("produced %d canary records to %s (acks=all)", cfg.Canaries, canary.topic)
	}

	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	stopRSS := r.sampleRSS()
	if len(cfg.Replay) > 0 {
		r.replay(runCtx)
	} else {
		r.fuzz(runCtx, start)
	}
	stopRSS()

	if canary != nil {
		// A fresh connection: the admin one may have idled out during a long run.
		check, err := newAdmin(cfg.Addr)
		if err != nil {
			r.finding(Finding{Kind: "canary", Detail: fmt.Sprintf("cannot connect to check the canary records: %v", err)})
		} else {
			if err := check.verifyCanaries(canary); err != nil {
				r.finding(Finding{Kind: "canary", Detail: err.Error()})
			} else {
				r.report.Canaries = cfg.Canaries
			}
			check.close()
		}
	}
	r.report.Elapsed = time.Since(start)
	rep := r.report
	return &rep, nil
}

// fuzz runs the workers until the request count, the duration or ctx ends.
func (r *run) fuzz(ctx context.Context, start time.Time) {
	var wg sync.WaitGroup
	for w := range r.cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(ctx, w)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			r.stop.Store(true)
			<-done
			return
		case <-tick.C:
			r.mu.Lock()
			rep := r.report
			r.mu.Unlock()
			r.cfg.Logf("%s: %d requests, %d answered, %d closed, %d timed out, %d findings, RSS peak %d MiB",
				time.Since(start).Round(time.Second), rep.Requests, rep.Answered, rep.Closed, rep.TimedOut, rep.Total, rep.RSSPeak>>20)
		}
	}
}

// replay sends the requests of cfg.Replay one by one on a fresh connection each.
func (r *run) replay(ctx context.Context) {
	for _, id := range r.cfg.Replay {
		if ctx.Err() != nil {
			return
		}
		w := &worker{run: r, id: id.Worker}
		w.do(ctx, w.build(id.Index))
		w.drop()
	}
}

func (r *run) sampleRSS() (stop func()) {
	if r.cfg.RSS == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		reported := false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rss, err := r.cfg.RSS()
			if err != nil {
				continue // the process may be exiting; the caller checks how it ended
			}
			r.mu.Lock()
			r.report.RSSPeak = max(r.report.RSSPeak, rss)
			r.mu.Unlock()
			if r.cfg.RSSLimit > 0 && rss > r.cfg.RSSLimit && !reported {
				reported = true
				r.finding(Finding{Kind: "rss", Detail: fmt.Sprintf("broker RSS %d MiB over the bound %d MiB", rss>>20, r.cfg.RSSLimit>>20)})
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *run) finding(f Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.Total++
	if len(r.report.Findings) < maxFindings {
		r.report.Findings = append(r.report.Findings, f)
	}
	r.cfg.Logf("FINDING %s: %s v%d, request %s: %.200s", f.Kind, f.API, f.Version, f.ID, f.Detail)
}

func (r *run) count(f func(*Report)) {
	r.mu.Lock()
	f(&r.report)
	r.mu.Unlock()
}

// item is one generated request.
type item struct {
	id        RequestID
	frame     []byte
	key       int16 // as generated; the header sent may differ when mutated
	version   int16
	mutated   bool
	supported bool // key and version advertised
	acks0     bool // an unmutated produce with acks=0: no answer is due
}

// worker is one connection's generator and checker; used by one goroutine.
type worker struct {
	run *run
	id  int
	c   *conn
}

func (r *run) worker(ctx context.Context, id int) {
	w := &worker{run: r, id: id}
	defer w.drop()
	for i := uint64(0); !r.stop.Load() && ctx.Err() == nil; i++ {
		if r.cfg.Requests > 0 && r.tickets.Add(1) > r.cfg.Requests {
			return
		}
		w.do(ctx, w.build(i))
	}
}

func (w *worker) drop() {
	if w.c != nil {
		w.c.close()
		w.c = nil
	}
}

// build generates request (worker, index) from the seed alone.
func (w *worker) build(index uint64) item {
	r := w.run
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(w.id)<<48^index))
	g := &gen{rng: rng, pool: r.pool, bombs: r.bombs}
	it := item{id: RequestID{w.id, index}}
	corr := int32(rng.Uint32() >> 1)
	x := rng.IntN(100)
	switch {
	case x < 2: // a key kmsg does not know: a random body behind a header
		it.key = []int16{-1, kmsg.MaxKey + 1, 1000, 32767, -32768}[rng.IntN(5)]
		it.version = int16(rng.IntN(20))
		f := binary.BigEndian.AppendUint32(nil, 0) // size, set below
		f = binary.BigEndian.AppendUint16(f, uint16(it.key))
		f = binary.BigEndian.AppendUint16(f, uint16(it.version))
		f = binary.BigEndian.AppendUint32(f, uint32(corr))
		f = binary.BigEndian.AppendUint16(f, uint16(len(clientID)))
		f = append(f, clientID...)
		f = append(f, g.bytesN(rng.IntN(200))...)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		it.frame = f
		return w.maybeMutate(rng, it)
	case x < 5 && len(r.others) > 0: // a key kmsg knows, not advertised
		it.key = r.others[rng.IntN(len(r.others))]
	default:
		it.key = r.keys[rng.IntN(len(r.keys))]
	}
	req := kmsg.RequestForKey(it.key)
	if v, ok := r.apis[it.key]; ok {
		it.version = v[0] + int16(rng.IntN(int(v[1]-v[0])+1))
		if rng.IntN(20) == 0 { // outside the advertised range
			it.version = []int16{v[1] + 1, v[1] + 2, v[0] - 1, -1, 32767}[rng.IntN(5)]
		}
		it.supported = it.version >= v[0] && it.version <= v[1]
	} else {
		it.version = int16(rng.IntN(int(req.MaxVersion()) + 3))
	}
	req.SetVersion(it.version)
	g.fill(req)
	if p, ok := req.(*kmsg.ProduceRequest); ok {
		if p.Acks == 0 && rng.IntN(4) > 0 {
			p.Acks = -1 // keep most produces answered, so their answers are checked
		}
		it.acks0 = p.Acks == 0
	}
	it.frame = Encode(req, corr)
	return w.maybeMutate(rng, it)
}

func (w *worker) maybeMutate(rng *rand.Rand, it item) item {
	if rng.Float64() < w.run.cfg.MutateRatio {
		it.frame = mutate(rng, it.frame)
		it.mutated = true
		it.acks0 = false
	}
	return it
}

// sentinelCorr is the correlation id of the ApiVersions v0 request sent after every
// produce frame: its answer shows that the produce got none.
const sentinelCorr = -123456789

// do sends one item and checks what comes back.
func (w *worker) do(ctx context.Context, it item) {
	r := w.run
	timeout := r.cfg.ResponseTimeout
	if w.c == nil {
		c, err := dial(r.cfg.Addr, timeout)
		if err != nil {
			if ctx.Err() == nil && !r.stop.Load() {
				r.finding(Finding{Kind: "no connection", Detail: err.Error()})
				r.stop.Store(true)
			}
			return
		}
		w.c = c
	}
	hdr, hasHdr := parseHeader(it.frame)
	api := kmsg.NameForKey(hdr.key)
	if api == "" {
		api = fmt.Sprintf("Key%d", hdr.key)
	}
	r.count(func(rep *Report) {
		rep.Requests++
		rep.PerAPI[kmsg.NameForKey(it.key)]++
		if it.mutated {
			rep.Mutated++
		}
		if !it.supported {
			rep.Unadverts++
		}
	})
	find := func(kind, detail string) {
		r.finding(Finding{Kind: kind, API: api, Key: hdr.key, Version: hdr.version, Mutated: it.mutated, ID: it.id, Detail: detail, Frame: it.frame})
	}
	sentinel := hasHdr && hdr.key == int16(kmsg.Produce)
	out := it.frame
	if sentinel {
		sv := kmsg.NewPtrApiVersionsRequest()
		out = append(slices.Clip(out), Encode(sv, sentinelCorr)...)
	}
	if err := w.c.write(out, timeout); err != nil {
		// The broker closed the connection after an earlier frame, or is not reading.
		w.drop()
		r.count(func(rep *Report) { rep.Closed++ })
		return
	}
	deadline := time.Now().Add(timeout)
	body, err := w.c.readFrame(deadline)
	switch {
	case errors.Is(err, errTimeout):
		w.drop()
		if waits[hdr.key] || !hasHdr {
			r.count(func(rep *Report) { rep.TimedOut++ })
			return
		}
		find("no response", fmt.Sprintf("no answer within %s", timeout))
		return
	case errors.Is(err, errClosed):
		w.drop()
		r.count(func(rep *Report) { rep.Closed++ })
		return
	case err != nil:
		w.drop()
		find("malformed response", err.Error())
		return
	}
	if sentinel && len(body) >= 4 && int32(binary.BigEndian.Uint32(body)) == sentinelCorr && hdr.corr != sentinelCorr {
		// The produce got no answer: right for acks=0 (or a mutated frame that reads so).
		if !it.mutated && !it.acks0 && it.supported {
			find("no response", "produce with acks != 0 got no answer (the next request's answer came first)")
		}
		r.count(func(rep *Report) { rep.NoAnswer++ })
		w.checkSentinel(body, find)
		return
	}
	w.check(body, hdr, hasHdr, it, find)
	if sentinel {
		body, err := w.c.readFrame(time.Now().Add(timeout))
		if err != nil {
			w.drop()
			if !errors.Is(err, errClosed) && !errors.Is(err, errTimeout) {
				find("malformed response", "sentinel ApiVersions: "+err.Error())
			}
			return
		}
		w.checkSentinel(body, find)
	}
}

func (w *worker) checkSentinel(body []byte, find func(kind, detail string)) {
	if _, err := decodeResponse(body, int16(kmsg.ApiVersions), 0, sentinelCorr); err != nil {
		find("malformed response", "sentinel ApiVersions v0 after it: "+err.Error())
		w.drop()
	}
}

// check decodes an answer to the frame sent (whose header says what the broker parsed).
func (w *worker) check(body []byte, hdr header, hasHdr bool, it item, find func(kind, detail string)) {
	r := w.run
	if !hasHdr {
		find("unexpected response", "answered a frame too short to hold a request header")
		w.drop()
		return
	}
	version := hdr.version
	v, advertised := r.apis[hdr.key]
	supported := advertised && version >= v[0] && version <= v[1]
	if !supported {
		if hdr.key != int16(kmsg.ApiVersions) {
			if kmsg.RequestForKey(hdr.key) == nil {
				find("unexpected response", "answered a request of an unknown api key")
				w.drop()
				return
			}
		} else {
			version = 0 // KIP-511: an unsupported ApiVersions is answered at v0
		}
	}
	resp, err := decodeResponse(body, hdr.key, version, hdr.corr)
	if err != nil {
		find("malformed response", err.Error())
		w.drop()
		return
	}
	if !supported && hdr.key == int16(kmsg.ApiVersions) {
		if code := resp.(*kmsg.ApiVersionsResponse).ErrorCode; code != kerr.UnsupportedVersion.Code {
			find("unexpected response", fmt.Sprintf("ApiVersions v%d answered with error code %d, want UNSUPPORTED_VERSION", hdr.version, code))
		}
	}
	if path, code := internalError(resp); path != "" {
		find("internal error", fmt.Sprintf("%s = %d (%s)", path, code, kerr.ErrorForCode(code)))
	}
	if fr, ok := resp.(*kmsg.FetchResponse); ok {
		if err := checkFetched(fr); err != nil {
			find("stored garbage", err.Error())
		}
	}
	r.count(func(rep *Report) { rep.Answered++ })
}
