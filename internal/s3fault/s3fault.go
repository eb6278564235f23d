// Package s3fault is a fault-injecting HTTP reverse proxy for S3 on loopback: tests put it
// between a client and MinIO and make it answer some requests with S3 errors (500
// InternalError, 503 SlowDown), add latency, drop or hang connections, hold the answer of a
// request the backend already handled, or shift the modification times ListObjectsV2
// reports (a store whose clock is off), while counting the requests it sees by method.
//
// The proxy forwards the client's Host header unchanged, so SigV4 signatures made for the
// proxy's address verify at the backend. Path-style addressing is assumed.
package s3fault

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what the proxy does to a request a Rule selects.
type Fault int

const (
	// None forwards the request.
	None Fault = iota
	// InternalError answers 500 with an S3 InternalError body.
	InternalError
	// SlowDown answers 503 with an S3 SlowDown body.
	SlowDown
	// Drop closes the client's connection without an answer.
	Drop
	// Hang holds the request without an answer until the client gives up, the rule
	// changes, or the proxy closes.
	Hang
	// HoldAnswer forwards the request and holds the backend's answer until the rule
	// changes (then delivers it), the client gives up, or the proxy closes: the request took
	// effect while its sender waits, as when the sender is paused between the two.
	HoldAnswer
)

func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case InternalError:
		return "InternalError"
	case SlowDown:
		return "SlowDown"
	case Drop:
		return "drop"
	case Hang:
		return "hang"
	case HoldAnswer:
		return "hold-answer"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Rule says which requests get which fault. The zero Rule forwards everything untouched.
type Rule struct {
	// Fault is applied to the selected requests.
	Fault Fault
	// Next selects the next Next requests (of Methods); after them Fraction applies.
	Next int
	// Fraction selects this share (0..1) of the requests (of Methods), at random.
	Fraction float64
	// Methods limits selection to these HTTP methods; empty means every method.
	Methods []string
	// PathContains limits selection to requests whose URL path (/<bucket>/<key>, path
	// style) contains it, e.g. "/segments/"; empty means every path.
	PathContains string
	// Applied, if set, receives the path of each selected request once its fault is
	// applied (for HoldAnswer: once the backend has answered and the answer is held). A
	// send that would block is skipped, so give it room for the requests Next selects.
	Applied chan<- string
	// AfterForward applies an InternalError, SlowDown or Drop only after the backend has
	// handled the request, replacing its answer: the request took effect but the client
	// cannot know it (a lost response). Hang always holds the request before forwarding.
	AfterForward bool
	// Latency delays every request (selected or not) before it is handled.
	Latency time.Duration
	// ModifiedShift is added to every LastModified that ListObjectsV2 answers report
	// (selected or not): -time.Hour makes objects look an hour older, as a store whose
	// clock runs an hour behind the client's would.
	ModifiedShift time.Duration
	// FailDeleteKeys, if set, makes every DeleteObjects answer (selected or not) report
	// each requested key containing it as not deleted (an InternalError entry), as S3
	// reports a per-key failure. The backend still handled the whole request: the key is
	// gone there, so a test checks what the client does with the answer.
	FailDeleteKeys string
}

// Stats counts requests by HTTP method.
type Stats struct {
	// Requests counts every request received.
	Requests map[string]int64
	// Faulted counts requests that got a fault instead of (or after) forwarding.
	Faulted map[string]int64
	// Listings counts ListObjectsV2 requests.
	Listings int64
}

// Proxy is a running fault-injecting proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	rp     *httputil.ReverseProxy

	mu      sync.Mutex // guards the fields below
	rule    Rule
	next    int           // remaining requests of rule.Next
	changed chan struct{} // closed (and replaced) when the rule changes; wakes hung requests
	rng     *rand.Rand
	stats   Stats

	closed  chan struct{}
	closing atomic.Bool
}

// Start listens on a free loopback port and forwards to target (e.g. MinIO's
// http://127.0.0.1:9000) until Close.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("cannot start s3 fault proxy: target %q is not an absolute URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start s3 fault proxy: %w", err)
	}
	p := &Proxy{
		target:  u,
		ln:      ln,
		changed: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		stats:   Stats{Requests: map[string]int64{}, Faulted: map[string]int64{}},
		closed:  make(chan struct{}),
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the signature covers the Host the client used
			// SetURL joins paths; the target has none, so the path is the client's.
		},
		ErrorLog: log.New(io.Discard, "", 0), // aborted copies are the point here
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The backend is unreachable (e.g. stopped): answer as a gateway would.
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL returns the proxy's endpoint, http://127.0.0.1:<port>.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Set replaces the rule; requests hanging under the old rule are released (and forwarded).
func (p *Proxy) Set(r Rule) {
	p.mu.Lock()
	p.rule = r
	p.next = r.Next
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Clear forwards everything from now on.
func (p *Proxy) Clear() { p.Set(Rule{}) }

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := Stats{Requests: make(map[string]int64, len(p.stats.Requests)), Faulted: make(map[string]int64, len(p.stats.Faulted))}
	for k, v := range p.stats.Requests {
		out.Requests[k] = v
	}
	for k, v := range p.stats.Faulted {
		out.Faulted[k] = v
	}
	out.Listings = p.stats.Listings
	return out
}

// Close stops listening, releases hung requests and closes every connection.
func (p *Proxy) Close() error {
	if !p.closing.CompareAndSwap(false, true) {
		return nil
	}
	close(p.closed)
	return p.srv.Close()
}

// pick counts the request and decides its fault under the current rule.
func (p *Proxy) pick(req *http.Request) (Rule, Fault, <-chan struct{}) {
	method, path := req.Method, req.URL.Path
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests[method]++
	if isListing(req) {
		p.stats.Listings++
	}
	r := p.rule
	f := None
	if r.Fault != None && (len(r.Methods) == 0 || slices.Contains(r.Methods, method)) && strings.Contains(path, r.PathContains) {
		switch {
		case p.next > 0:
			p.next--
			f = r.Fault
		case r.Fraction > 0 && p.rng.Float64() < r.Fraction:
			f = r.Fault
		}
	}
	if f != None {
		p.stats.Faulted[method]++
	}
	return r, f, p.changed
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	rule, fault, changed := p.pick(req)
	if rule.Latency > 0 {
		select {
		case <-time.After(rule.Latency):
		case <-req.Context().Done():
			return
		case <-p.closed:
			return
		}
	}
	if fault == Hang {
		applied(rule, req)
		select {
		case <-req.Context().Done():
			return
		case <-p.closed:
			return
		case <-changed:
			fault = None
		}
	}
	if fault == None && rule.FailDeleteKeys != "" && isMultiDelete(req) {
		p.failDeleteKeys(w, req, rule.FailDeleteKeys)
		return
	}
	if fault == None && rule.ModifiedShift != 0 && isListing(req) {
		p.shiftList(w, req, rule.ModifiedShift)
		return
	}
	if fault == None {
		p.rp.ServeHTTP(w, req)
		return
	}
	if fault == HoldAnswer {
		p.hold(w, req, rule, changed)
		return
	}
	if rule.AfterForward {
		// Let the backend handle the request, then throw its answer away.
		p.rp.ServeHTTP(discardWriter{h: http.Header{}}, req)
	} else {
		// Read the body as S3 would before answering, so the client is not cut off mid-send.
		_, _ = io.Copy(io.Discard, req.Body)
	}
	applied(rule, req)
	switch fault {
	case InternalError:
		writeError(w, req, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case SlowDown:
		writeError(w, req, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case Drop:
		drop(w)
	}
}

// isListing reports whether req is a ListObjectsV2 request.
func isListing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Query().Get("list-type") == "2"
}

// isMultiDelete reports whether req is a DeleteObjects request (POST /<bucket>?delete).
func isMultiDelete(req *http.Request) bool {
	_, ok := req.URL.Query()["delete"]
	return req.Method == http.MethodPost && ok
}

// failDeleteKeys forwards a DeleteObjects request and rewrites its answer so that the
// requested keys containing sub are reported failed instead of deleted.
func (p *Proxy) failDeleteKeys(w http.ResponseWriter, req *http.Request, sub string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		writeError(w, req, http.StatusBadRequest, "IncompleteBody", "s3fault cannot read the request: "+err.Error())
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body)) // forwarded unchanged: it is signed
	var del struct {
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &del); err != nil {
		writeError(w, req, http.StatusBadRequest, "MalformedXML", "s3fault cannot parse the request: "+err.Error())
		return
	}
	rec := newRecorder()
	p.rp.ServeHTTP(rec, req)
	end := bytes.LastIndex(rec.body, []byte("</DeleteResult>"))
	if rec.status != http.StatusOK || rec.h.Get("Content-Encoding") != "" || end < 0 {
		rec.replay(w)
		return
	}
	var errs bytes.Buffer
	for _, o := range del.Objects {
		if !strings.Contains(o.Key, sub) {
			continue
		}
		var k bytes.Buffer
		_ = xml.EscapeText(&k, []byte(o.Key))
		// A quiet answer (what objstore asks for) lists no <Deleted> entries to remove; a
		// verbose one would keep the key's <Deleted> entry beside its <Error>.
		fmt.Fprintf(&errs, "<Error><Key>%s</Key><Code>InternalError</Code><Message>s3fault: injected per-key failure</Message></Error>", k.Bytes())
	}
	rec.body = slices.Concat(rec.body[:end], errs.Bytes(), rec.body[end:])
	rec.h.Set("Content-Length", strconv.Itoa(len(rec.body)))
	rec.replay(w)
}

// applied tells rule.Applied, if set, that req's fault was applied; it never blocks.
func applied(rule Rule, req *http.Request) {
	if rule.Applied == nil {
		return
	}
	select {
	case rule.Applied <- req.URL.Path:
	default:
	}
}

// hold forwards req, keeps the backend's answer until the rule changes, and delivers it
// then (nothing if the client gave up or the proxy closed meanwhile).
func (p *Proxy) hold(w http.ResponseWriter, req *http.Request, rule Rule, changed <-chan struct{}) {
	rec := newRecorder()
	p.rp.ServeHTTP(rec, req)
	applied(rule, req)
	select {
	case <-changed:
	case <-req.Context().Done():
		return
	case <-p.closed:
		return
	}
	rec.replay(w)
}

// lastModified matches the timestamps of a ListObjectsV2 answer.
var lastModified = regexp.MustCompile(`<LastModified>([^<]+)</LastModified>`)

// shiftList forwards a ListObjectsV2 request and adds shift to every LastModified of the
// answer.
func (p *Proxy) shiftList(w http.ResponseWriter, req *http.Request, shift time.Duration) {
	rec := newRecorder()
	p.rp.ServeHTTP(rec, req) // the request's headers are signed: forwarded untouched
	if rec.h.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(rec.body))
		if err == nil {
			rec.body, err = io.ReadAll(zr)
		}
		if err != nil {
			writeError(w, req, http.StatusBadGateway, "InternalError", "s3fault cannot decompress the listing: "+err.Error())
			return
		}
		rec.h.Del("Content-Encoding")
	}
	if rec.status == http.StatusOK {
		rec.body = lastModified.ReplaceAllFunc(rec.body, func(m []byte) []byte {
			v := lastModified.FindSubmatch(m)[1]
			ts, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return m
			}
			return fmt.Appendf(nil, "<LastModified>%s</LastModified>", ts.Add(shift).UTC().Format("2006-01-02T15:04:05.000Z"))
		})
		rec.h.Set("Content-Length", strconv.Itoa(len(rec.body)))
	}
	rec.replay(w)
}

// recorder keeps a backend's answer to deliver later or rewritten.
type recorder struct {
	h      http.Header
	status int
	body   []byte
}

func newRecorder() *recorder { return &recorder{h: http.Header{}, status: http.StatusOK} }

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return len(b), nil
}

func (r *recorder) WriteHeader(status int) { r.status = status }

// replay writes the kept answer to w.
func (r *recorder) replay(w http.ResponseWriter) {
	for k, v := range r.h {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// drop closes the client's connection without writing an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, as a crashed server or a middlebox would send
	}
	_ = conn.Close()
}

// s3Error is S3's XML error document.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

var requestIDs atomic.Uint64

// writeError answers with S3's error document (no body for HEAD, as S3 does).
func writeError(w http.ResponseWriter, req *http.Request, status int, code, msg string) {
	id := fmt.Sprintf("S3FAULT%012X", requestIDs.Add(1))
	w.Header().Set("x-amz-request-id", id)
	if req.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	body, _ := xml.Marshal(s3Error{Code: code, Message: msg, Resource: req.URL.Path, RequestID: id})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(xml.Header)+len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(body)
}

// discardWriter swallows the backend's answer of a request faulted after forwarding.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
