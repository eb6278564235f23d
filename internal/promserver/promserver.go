// Package promserver runs a real Prometheus server (Debian's prometheus package, which
// scripts/test-deps.sh installs) for tests: it scrapes the given targets every second and
// answers PromQL through its HTTP API.
package promserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/logbuf"
)

// Server is one running Prometheus.
type Server struct {
	Addr string // host:port of its web UI and HTTP API
	log  *logbuf.Buffer
}

// Start runs Prometheus scraping targets (host:port serving /metrics) as job "kafscale"
// every second, with its data in a test directory; it is stopped when the test ends. It
// waits until Prometheus reports ready.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (Debian package prometheus); run scripts/test-deps.sh to install it")
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: kafscale
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: kafkatest.FreeAddr(t), log: &logbuf.Buffer{}}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+s.Addr, "--web.console.templates="+dir, "--web.console.libraries="+dir)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log (last 4 KiB):\n%s", s.log.Tail(4<<10))
		}
	})
	client := &http.Client{Timeout: time.Second}
	kafkatest.WaitUntil(t, 30*time.Second, "prometheus ready", func() error {
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", s.log.Tail(4<<10))
		default:
		}
		resp, err := client.Get("http://" + s.Addr + "/-/ready")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	})
	// Prometheus applies its targets some seconds after it is ready (its discovery updates
	// are throttled to one per 5 s): until every target was scraped once, what a test does
	// is not seen as a change (rate() needs a sample from before it).
	kafkatest.WaitUntil(t, 30*time.Second, "prometheus scraped every target", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		up, err := s.Query(ctx, `up{job="kafscale"} == 1`)
		if err != nil {
			return err
		}
		if len(up) != len(targets) {
			return fmt.Errorf("%d of %d targets scraped", len(up), len(targets))
		}
		return nil
	})
	return s
}

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates PromQL expr now (an instant query of /api/v1/query) and returns its
// samples; an answer that is not a vector is an error.
func (s *Server) Query(ctx context.Context, expr string) ([]Sample, error) {
	u := "http://" + s.Addr + "/api/v1/query?" + url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot query prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode prometheus answer to %s: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus refused %s: %s: %s", expr, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus answered %s with a %s, want a vector", expr, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("prometheus answered %s with value %v: %w", expr, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}
