package kafkatest

import (
	"regexp"
	"strconv"
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
