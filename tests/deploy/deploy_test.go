// Package deploy checks the monitoring files in deploy/ against a real broker (issue 14,
// acceptance 5): every metric the Grafana dashboard and the Prometheus alert rules use is
// in a `kafscale dev` scrape, and promtool accepts the rules.
package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

const (
	dashboard = "../../deploy/grafana/kafscale-dashboard.json"
	rules     = "../../deploy/prometheus/kafscale-alerts.yml"
)

var metricName = regexp.MustCompile(`kafscale_[a-z0-9_]+`)

// usedMetrics returns the kafscale_ metric names in text, a histogram's series named by
// the histogram.
func usedMetrics(text string) []string {
	seen := map[string]bool{}
	for _, m := range metricName.FindAllString(text, -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(m, "_seconds"+suffix) {
				m = strings.TrimSuffix(m, suffix)
			}
		}
		seen[m] = true
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func TestDashboardAndAlertsUseExistingMetrics(t *testing.T) {
	dash, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &parsed); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboard, err)
	}
	if len(parsed.Panels) == 0 {
		t.Fatalf("%s has no panels", dashboard)
	}
	var exprs strings.Builder
	for _, p := range parsed.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, q := range p.Targets {
			exprs.WriteString(q.Expr + "\n")
		}
	}
	alerts, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus); run scripts/test-deps.sh to install it")
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", rules, err, out)
	}

	p := testbroker.Start(t, "--lag-interval", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	scrape := scrapeWithGroupAndError(ctx, t, p.Addr, p.MetricsAddr)
	exported := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		if m := metricName.FindString(line); m != "" && strings.HasPrefix(line, m) {
			exported[usedMetrics(m)[0]] = true
		}
	}
	for file, text := range map[string]string{dashboard: exprs.String(), rules: string(alerts)} {
		// Series that exist once something happened: the broker saw a group commit and
		// answered an error (scrapeWithGroupAndError).
		used := usedMetrics(text)
		if len(used) == 0 {
			t.Errorf("%s uses no kafscale metric", file)
		}
		for _, m := range used {
			if !exported[m] {
				t.Errorf("%s uses %s, which a broker's scrape does not export", file, m)
			}
		}
	}
}

// scrapeWithGroupAndError gives the broker what the series with data labels need (a topic,
// a group's committed offset, an error answered) and returns a scrape once the group's lag
// is exported.
func scrapeWithGroupAndError(ctx context.Context, t *testing.T, addr, metricsAddr string) string {
	t.Helper()
	const topic, group = "deploy-check", "deploy-check"
	kafkatest.CreateTopic(t, addr, topic, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	// A produce to a partition the topic does not have is answered UNKNOWN_TOPIC_OR_PARTITION.
	if code, err := kafkatest.ProduceCode(ctx, cl, topic, 5); err != nil || code == 0 {
		t.Fatalf("a produce to partition 5 of a 1-partition topic: code %d, err %v", code, err)
	}
	var scrape string
	kafkatest.WaitUntil(t, 30*time.Second, "the group's lag and the error exported", func() error {
		if scrape, err = kafkatest.ScrapeMetrics(ctx, metricsAddr); err != nil {
			return err
		}
		for _, want := range []string{`kafscale_consumer_group_lag{group="deploy-check"`, `kafscale_request_errors_total{`} {
			if !strings.Contains(scrape, want) {
				return fmt.Errorf("no %s yet", want)
			}
		}
		return nil
	})
	return scrape
}
