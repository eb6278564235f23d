package kafkatest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// metricLine matches a sample in the Prometheus text format: name, optional labels, value,
// optional timestamp.
var metricLine = regexp.MustCompile(`(?m)^(\S+?)(?:\{[^}]*\})? (\S+)(?: -?\d+)?$`)

// MetricValue returns the sum of the samples of the metric name (all label sets) in
// Prometheus text, or 0 if it has none.
func MetricValue(promText, name string) float64 {
	var sum float64
	for _, m := range metricLine.FindAllStringSubmatch(promText, -1) {
		if m[1] == name {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

// MetricSample returns the value of the one sample written exactly as series (a name with
// its labels, such as `kafscale_requests_total{api="Fetch"}`) in Prometheus text, or 0 if
// there is none.
func MetricSample(promText, series string) float64 {
	for line := range strings.Lines(promText) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				v, _ := strconv.ParseFloat(f[0], 64)
				return v
			}
		}
	}
	return 0
}

// ScrapeMetrics returns the Prometheus text of http://addr/metrics.
func ScrapeMetrics(ctx context.Context, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET http://%s/metrics: %s", addr, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
