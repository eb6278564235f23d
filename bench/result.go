package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one target did under the load, over the measured window.
type Result struct {
	Target string // as given in Config.Targets
	About  string // what ran, e.g. "kafscale dev, local directory"
	Window time.Duration

	// Produced records: sent in the window and acknowledged without error.
	Records      int64
	RecordsPerS  float64
	MBPerS       float64 // record value bytes, 10^6 bytes per MB
	ProduceErrs  int64
	FirstErr     string  `json:",omitempty"`
	Consumed     int64   // records sent in the window and received by a consumer
	ConsumedPerS float64 // Consumed / Window
	// ConsumedMBPerS is the record value bytes read per second of window by the
	// consume-only load (Load.Fill), 10^6 bytes per MB; 0 otherwise.
	ConsumedMBPerS float64
	Missing        int64 // acknowledged (whole run) but not consumed by the end of the drain

	Ack Summary // produce send to acknowledgement
	E2E Summary // produce send to consumer receive (tcp-sink: to the sink's read)

	// Broker process figures; NaN/0 where the target runs in this process or is external.
	CPUSecPerGB float64
	CPUPercent  float64 // CPU seconds per second of window, x100
	// HarnessCPUPercent is this process's CPU over the window: the clients, plus the broker
	// for kfake and the sink, which run in it.
	HarnessCPUPercent float64
	MaxRSSBytes       int64 // largest VmRSS sampled in the window
	PeakRSSBytes      int64 // VmHWM at the end of the window (includes start-up)

	// From the broker's /metrics and etcd; NaN where not available.
	PutsPerS float64
	// HedgesPerS is the PUTs per second that hedged a slow flush-object PUT
	// (kafscale_flush_upload_hedges_total), included in PutsPerS: what hedging costs.
	HedgesPerS      float64
	GetsPerS        float64
	EtcdCommitsPerS float64 // kafscale_etcd_commit_duration_ms_count
	EtcdWritesPerS  float64 // etcd revisions (one per write transaction)
}

func newResult(target string) *Result {
	nan := math.NaN()
	return &Result{Target: target, CPUSecPerGB: nan, HarnessCPUPercent: nan, CPUPercent: nan, PutsPerS: nan, HedgesPerS: nan, GetsPerS: nan, EtcdCommitsPerS: nan, EtcdWritesPerS: nan}
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func pcts(s Summary) string {
	if s.Count == 0 {
		return "-"
	}
	return strings.Join([]string{ms(s.P50), ms(s.P90), ms(s.P99), ms(s.P999), ms(s.MaxDur)}, " / ")
}

func num(v float64, format string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// WriteReport prints the results, one block per target, then the ratio tables.
func WriteReport(w io.Writer, load Load, results []*Result) {
	if load.Sync > 0 {
		writeSyncReport(w, load, results)
		return
	}
	if load.Fill > 0 {
		writeFetchReport(w, load, results)
		return
	}
	rate := "max"
	if load.Rate > 0 {
		rate = fmt.Sprintf("%.0f rec/s", load.Rate)
	}
	linger, inflight := "default", "default"
	if load.Linger > 0 {
		linger = load.Linger.String()
	}
	if load.Inflight > 0 {
		inflight = fmt.Sprint(load.Inflight)
	}
	if load.Idempotent {
		inflight = "idempotent"
	}
	fmt.Fprintf(w, "load: %d producers, %d consumers, rate %s, %d B records, %d partitions, acks=%s, codec %s, linger %s, in-flight %s, warmup %s, window %s\n\n",
		load.Producers, load.Consumers, rate, load.RecordSize, load.Partitions, load.Acks, load.Codec, linger, inflight, load.Warmup, load.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tproduce rec/s\tMB/s\tconsumed rec/s\tack ms p50/p90/p99/p99.9/max\te2e ms p50/p90/p99/p99.9/max\terrs\tmissing\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.0f\t%s\t%s\t%d\t%d\t\n", r.Target, r.RecordsPerS, r.MBPerS, r.ConsumedPerS, pcts(r.Ack), pcts(r.E2E), r.ProduceErrs, r.Missing)
	}
	tw.Flush()
	fmt.Fprintln(w)
	writeBrokerTable(w, results)
	if len(results) < 2 {
		return
	}
	ratioTable(w, "produce throughput, row / column", results, func(r *Result) float64 { return r.RecordsPerS })
	ratioTable(w, "e2e p50, row / column", results, func(r *Result) float64 { return float64(r.E2E.P50) })
	ratioTable(w, "e2e p99, row / column", results, func(r *Result) float64 { return float64(r.E2E.P99) })
}

// writeBrokerTable prints the broker and harness figures of each target, then what ran.
func writeBrokerTable(w io.Writer, results []*Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tkbench CPU %\tbroker CPU s/GB\tbroker CPU %\tmax RSS MiB\tpeak RSS MiB\tPUT/s\thedged PUT/s\tGET/s\tetcd commits/s\tetcd writes/s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Target, num(r.HarnessCPUPercent, "%.0f"), num(r.CPUSecPerGB, "%.1f"), num(r.CPUPercent, "%.0f"),
			mib(r.MaxRSSBytes), mib(r.PeakRSSBytes), num(r.PutsPerS, "%.1f"), num(r.HedgesPerS, "%.1f"), num(r.GetsPerS, "%.1f"), num(r.EtcdCommitsPerS, "%.1f"), num(r.EtcdWritesPerS, "%.1f"))
	}
	tw.Flush()
	for _, r := range results {
		if r.About != "" || r.FirstErr != "" {
			fmt.Fprintf(w, "  %s: %s", r.Target, r.About)
			if r.FirstErr != "" {
				fmt.Fprintf(w, "; first error: %s", r.FirstErr)
			}
			fmt.Fprintln(w)
		}
	}
}

func mib(b int64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}

func ratioTable(w io.Writer, title string, results []*Result, f func(*Result) float64) {
	nonZero := 0
	for _, r := range results {
		if f(r) != 0 {
			nonZero++
		}
	}
	if nonZero < 2 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, c := range results {
		fmt.Fprintf(tw, "%s\t", c.Target)
	}
	fmt.Fprintln(tw)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.Target)
		for _, c := range results {
			if f(c) == 0 || f(r) == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%.3g\t", f(r)/f(c))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
