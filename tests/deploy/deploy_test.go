// Package deploy checks the monitoring files in deploy/ against a real broker (issue 14,
// acceptance 5): every metric the Grafana dashboard and the Prometheus alert rules use is
// in a `kafscale dev` scrape, and promtool accepts the rules.
package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

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

	p := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	scrape, err := kafkatest.ScrapeMetrics(ctx, p.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		if m := metricName.FindString(line); m != "" && strings.HasPrefix(line, m) {
			exported[usedMetrics(m)[0]] = true
		}
	}
	for file, text := range map[string]string{dashboard: exprs.String(), rules: string(alerts)} {
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
