package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/kafscale/kafscale/bench"
	"github.com/kafscale/kafscale/internal/kafkatest"
)

// counters are a broker's /metrics series by full name (labels included).
type counters map[string]float64

// scrape reads the broker's counters; histogram and summary series are read too and unused.
func scrape(ctx context.Context, addr string) (counters, error) {
	text, err := kafkatest.ScrapeMetrics(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape %s: %w", addr, err)
	}
	c, err := bench.ParseMetrics(strings.NewReader(text))
	return counters(c), err
}

// minus is c - base, series by series.
func (c counters) minus(base counters) counters {
	d := counters{}
	for k, v := range c {
		d[k] = v - base[k]
	}
	return d
}

// req is the object requests of op in the window.
func (c counters) req(op string) float64 {
	return c[`kafscale_object_requests_total{op="`+op+`"}`]
}
