package s3fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// backend is a stand-in S3 server that records what reaches it.
type backend struct {
	srv   *httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	hosts []string
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.hosts = append(b.hosts, r.Host)
		b.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, "payload")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func do(t *testing.T, method, url string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader("body"))
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func TestForwardsWithTheClientsHostAndCountsByMethod(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	for _, m := range []string{"GET", "PUT", "PUT", "HEAD", "DELETE"} {
		code, _, err := do(t, m, p.URL()+"/bucket/key")
		if err != nil || code != 200 {
			t.Fatalf("%s: %d, %v; want 200", m, code, err)
		}
	}
	st := p.Stats()
	want := map[string]int64{"GET": 1, "PUT": 2, "HEAD": 1, "DELETE": 1}
	for m, n := range want {
		if st.Requests[m] != n {
			t.Errorf("Requests[%s] = %d; want %d", m, st.Requests[m], n)
		}
	}
	if len(st.Faulted) != 0 {
		t.Errorf("Faulted = %v; want none", st.Faulted)
	}
	proxyHost := strings.TrimPrefix(p.URL(), "http://")
	for _, h := range b.hosts {
		if h != proxyHost {
			t.Fatalf("backend saw Host %q; want the client's %q (SigV4 signs it)", h, proxyHost)
		}
	}
}

func TestNextRequestsGetS3Errors(t *testing.T) {
	for _, tc := range []struct {
		fault  Fault
		status int
		code   string
	}{
		{InternalError, 500, "<Code>InternalError</Code>"},
		{SlowDown, 503, "<Code>SlowDown</Code>"},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			b := newBackend(t)
			p := startProxy(t, b.srv.URL)
			p.Set(Rule{Fault: tc.fault, Next: 3})
			for i := range 3 {
				code, body, err := do(t, "PUT", p.URL()+"/bucket/key")
				if err != nil || code != tc.status || !strings.Contains(body, tc.code) || !strings.Contains(body, "<Resource>/bucket/key</Resource>") {
					t.Fatalf("request %d: %d %q, %v; want %d with %s", i, code, body, err, tc.status, tc.code)
				}
			}
			if code, body, err := do(t, "PUT", p.URL()+"/bucket/key"); err != nil || code != 200 || body != "payload" {
				t.Fatalf("4th request: %d %q, %v; want forwarded", code, body, err)
			}
			if b.hits.Load() != 1 {
				t.Fatalf("backend saw %d requests; want only the forwarded one", b.hits.Load())
			}
			if st := p.Stats(); st.Faulted["PUT"] != 3 || st.Requests["PUT"] != 4 {
				t.Fatalf("stats %+v; want 3 of 4 PUTs faulted", st)
			}
		})
	}
}

// TestSDKReadsTheErrorsAsS3Errors guards the error document's shape: the AWS SDK must see
// the S3 error code, which decides whether it retries.
func TestSDKReadsTheErrorsAsS3Errors(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	cli := s3.New(s3.Options{
		BaseEndpoint: aws.String(p.URL()), Region: "us-east-1", UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "k", SecretAccessKey: "s"}, nil
		}),
	})
	for _, f := range []Fault{InternalError, SlowDown} {
		p.Set(Rule{Fault: f, Next: 1})
		_, err := cli.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("key")})
		var api interface{ ErrorCode() string } // smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != f.String() {
			t.Fatalf("GetObject under %s: %v; want an API error with code %s", f, err, f)
		}
	}
	out, err := cli.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("key")})
	if err != nil {
		t.Fatalf("GetObject after the faults: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "payload" {
		t.Fatalf("GetObject body %q; want payload", body)
	}
}

func TestFractionFaultsAboutThatShare(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Fault: InternalError, Fraction: 0.3})
	const n = 400
	failed := 0
	for range n {
		code, _, err := do(t, "GET", p.URL()+"/bucket/key")
		if err != nil {
			t.Fatal(err)
		}
		if code == 500 {
			failed++
		}
	}
	// Binomial(400, 0.3): mean 120, sd ~9; +-5 sd.
	if failed < 75 || failed > 165 {
		t.Fatalf("%d of %d requests faulted; want about 30%%", failed, n)
	}
	if got := p.Stats().Faulted["GET"]; got != int64(failed) {
		t.Fatalf("Faulted[GET] = %d; want %d", got, failed)
	}
}

func TestMethodsLimitWhatIsFaulted(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Fault: SlowDown, Fraction: 1, Methods: []string{"PUT"}})
	if code, _, _ := do(t, "GET", p.URL()+"/b/k"); code != 200 {
		t.Fatalf("GET: %d; want 200 (only PUT is faulted)", code)
	}
	if code, _, _ := do(t, "PUT", p.URL()+"/b/k"); code != 503 {
		t.Fatalf("PUT: %d; want 503", code)
	}
}

// TestAfterForwardReachesTheBackend models a lost response: the write happened, the client
// sees an error and will retry it.
func TestAfterForwardReachesTheBackend(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Fault: InternalError, Next: 1, AfterForward: true})
	if code, _, _ := do(t, "PUT", p.URL()+"/b/k"); code != 500 {
		t.Fatalf("PUT: %d; want 500", code)
	}
	if b.hits.Load() != 1 {
		t.Fatalf("backend saw %d requests; want 1", b.hits.Load())
	}
}

func TestDropClosesTheConnection(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Fault: Drop, Next: 1})
	if _, _, err := do(t, "GET", p.URL()+"/b/k"); err == nil {
		t.Fatal("GET of a dropped request succeeded")
	}
	if b.hits.Load() != 0 {
		t.Fatalf("backend saw %d requests; want 0", b.hits.Load())
	}
	if code, _, err := do(t, "GET", p.URL()+"/b/k"); err != nil || code != 200 {
		t.Fatalf("GET after the drop: %d, %v", code, err)
	}
}

func TestHangHoldsUntilTheClientGivesUpOrTheRuleChanges(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Fault: Hang, Fraction: 1})
	c := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	if _, err := c.Get(p.URL() + "/b/k"); err == nil {
		t.Fatal("GET of a hung request succeeded")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("hung request failed after %s; want the client's timeout", d)
	}
	done := make(chan error, 1)
	go func() {
		code, _, err := do(t, "GET", p.URL()+"/b/k")
		if err == nil && code != 200 {
			err = errors.New(http.StatusText(code))
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it arrive and hang
	p.Clear()
	if err := <-done; err != nil {
		t.Fatalf("released request: %v; want forwarded", err)
	}
}

func TestLatencyDelaysEveryRequest(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Latency: 100 * time.Millisecond})
	start := time.Now()
	if code, _, err := do(t, "GET", p.URL()+"/b/k"); err != nil || code != 200 {
		t.Fatalf("GET: %d, %v", code, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("GET took %s; want at least the 100ms latency", d)
	}
}

func TestUnreachableBackendIsBadGateway(t *testing.T) {
	b := newBackend(t)
	url := b.srv.URL
	b.srv.Close()
	p := startProxy(t, url)
	if code, _, err := do(t, "GET", p.URL()+"/b/k"); err != nil || code != http.StatusBadGateway {
		t.Fatalf("GET: %d, %v; want 502", code, err)
	}
}

// TestHoldAnswerKeepsTheBackendsAnswerUntilTheRuleChanges: the backend handled the request
// before the client gets anything, Applied says so, and the answer arrives once released.
func TestHoldAnswerKeepsTheBackendsAnswerUntilTheRuleChanges(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	held := make(chan string, 1)
	p.Set(Rule{Fault: HoldAnswer, Next: 1, Methods: []string{"PUT"}, Applied: held})
	done := make(chan string, 1)
	go func() {
		code, body, err := do(t, "PUT", p.URL()+"/b/k")
		done <- fmt.Sprintf("%d %s %v", code, body, err)
	}()
	select {
	case path := <-held:
		if path != "/b/k" {
			t.Fatalf("Applied got %q; want /b/k", path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held request was not reported within 5 s")
	}
	if b.hits.Load() != 1 {
		t.Fatalf("backend saw %d requests before the answer was released; want 1", b.hits.Load())
	}
	select {
	case got := <-done:
		t.Fatalf("the client got %q while the answer was held", got)
	default:
	}
	p.Clear()
	select {
	case got := <-done:
		if got != "200 payload <nil>" {
			t.Fatalf("released answer: %q; want the backend's 200 payload", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the answer was not delivered within 5 s of the release")
	}
}

func TestPathContainsLimitsWhatIsFaulted(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.srv.URL)
	p.Set(Rule{Fault: SlowDown, Fraction: 1, PathContains: "/segments/"})
	if code, _, _ := do(t, "PUT", p.URL()+"/b/flush/0/k"); code != 200 {
		t.Fatalf("PUT outside the path: %d; want 200", code)
	}
	if code, _, _ := do(t, "PUT", p.URL()+"/b/segments/t/0/k"); code != 503 {
		t.Fatalf("PUT under the path: %d; want 503", code)
	}
}

// TestModifiedShiftRewritesListTimes: the SDK reads the shifted times, and other requests
// are untouched.
func TestModifiedShiftRewritesListTimes(t *testing.T) {
	const stored = "2026-12-02T16:00:00.000Z"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("list-type") != "2" {
			_, _ = io.WriteString(w, "<LastModified>"+stored+"</LastModified>")
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`+
			`<Contents><Key>a</Key><LastModified>`+stored+`</LastModified><Size>1</Size></Contents>`+
			`<Contents><Key>b</Key><LastModified>`+stored+`</LastModified><Size>1</Size></Contents></ListBucketResult>`)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, srv.URL)
	p.Set(Rule{ModifiedShift: -time.Hour})
	cl := s3.New(s3.Options{BaseEndpoint: aws.String(p.URL()), Region: "us-east-1", UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := time.Parse(time.RFC3339, stored)
	want = want.Add(-time.Hour)
	if len(out.Contents) != 2 {
		t.Fatalf("listed %d objects; want 2", len(out.Contents))
	}
	for _, o := range out.Contents {
		if !o.LastModified.Equal(want) {
			t.Errorf("%s: LastModified %s; want %s", *o.Key, o.LastModified, want)
		}
	}
	if _, body, _ := do(t, "GET", p.URL()+"/b/k"); !strings.Contains(body, stored) {
		t.Errorf("a GET that is no listing was rewritten: %q", body)
	}
	if n := p.Stats().Listings; n != 1 {
		t.Errorf("Stats().Listings = %d; want 1", n)
	}
}

// TestFailDeleteKeysRewritesDeleteObjectsAnswers: the SDK reads an injected per-key error
// for each requested key that matches, the backend still receives the request unchanged,
// and an answer to another request is untouched.
func TestFailDeleteKeysRewritesDeleteObjectsAnswers(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["delete"]; ok && r.Method == http.MethodPost {
			got, _ = io.ReadAll(r.Body)
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, srv.URL)
	p.Set(Rule{FailDeleteKeys: "bad"})
	cl := s3.New(s3.Options{BaseEndpoint: aws.String(p.URL()), Region: "us-east-1", UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("b"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("x/good")}, {Key: aws.String("x/bad&1")}},
		Quiet:   aws.Bool(true),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "x/bad&1" || aws.ToString(out.Errors[0].Code) != "InternalError" {
		t.Fatalf("DeleteObjects errors = %+v; want one InternalError for x/bad&1", out.Errors)
	}
	if !strings.Contains(string(got), "x/good") || !strings.Contains(string(got), "x/bad&amp;1") {
		t.Errorf("backend received %q; want the request unchanged", got)
	}
	if _, body, _ := do(t, "GET", p.URL()+"/b/k"); strings.Contains(body, "<Error>") {
		t.Errorf("a GET was rewritten: %q", body)
	}
}
