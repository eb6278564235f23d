package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// gb is the unit of "per GB produced": 10^9 bytes of keys and values acknowledged.
const gb = 1e9

// writeReport prints, per policy, the measured figures per GB produced and the same at
// scale 1. Requests made per flush (flush PUTs and etcd commits) do not depend on the
// scale; the rest is made per interval or per segment, so k times as often per GB at scale
// k (see the package doc). DELETEs are per interval: GC sends one DeleteObjects per prefix
// and pass for up to 1,000 keys, however many flush objects it deletes.
func writeReport(w io.Writer, cfg config, results []*result) {
	k := cfg.scale
	fmt.Fprintf(w, "kcost: %s, %d B/s of %d-byte records, %d partitions, keys %d at scale 1 (%d here), retention.ms %d at scale 1, scale %g\n",
		cfg.backend, cfg.rate, cfg.recordSize, cfg.partitions, cfg.keys, int(float64(cfg.keys)/k), cfg.retentionAt1.Milliseconds(), k)
	fmt.Fprintf(w, "broker flags: %v\nwarm-up %s, window %s\n\n", cfg.brokerFlags, cfg.warmup, cfg.window)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tGB produced\tstored mean (max) GB\tstored / retained volume\tPUT/GB\tGET/GB\tLIST/GB\tDELETE/GB\tdeleted keys/GB\tetcd txn/GB\tPUT GB/GB\tGET GB/GB\tflush PUT/GB\tsegment PUT/GB\tcompaction PUT/GB\tcompaction GET/GB\t")
	for _, r := range results {
		if r == nil || r.producedB == 0 {
			continue
		}
		g := float64(r.producedB) / gb
		d := r.delta
		mean, peak := stats(r.stored)
		retained := float64(cfg.rate) * cfg.retentionAt1.Seconds() / k
		fmt.Fprintf(tw, "%s\t%.2f\t%.3f (%.3f)\t%.2f\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t\n",
			r.policy, g, mean/gb, peak/gb, mean/retained,
			d.req("put")/g, d.req("get")/g, d.req("list")/g, d.req("delete")/g, d["kafscale_object_delete_keys_total"]/g, float64(r.etcdWrites)/g,
			d[`kafscale_object_bytes_total{op="put"}`]/gb/g, d[`kafscale_object_bytes_total{op="get"}`]/gb/g,
			d["kafscale_flush_objects_total"]/g, d["kafscale_merge_segments_total"]/g,
			d["kafscale_compaction_put_requests_total"]/g, d["kafscale_compaction_get_requests_total"]/g)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nAt scale 1 (per-flush requests as measured, the rest, DELETEs included, / %g; stored bytes x %g):\n", k, k)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tstored mean GB\tPUT/GB\tGET/GB\tLIST/GB\tDELETE/GB\tetcd txn/GB\t")
	for _, r := range results {
		if r == nil || r.producedB == 0 {
			continue
		}
		g := float64(r.producedB) / gb
		d := r.delta
		mean, _ := stats(r.stored)
		flushes := d["kafscale_flush_objects_total"]
		// GETs not made by compaction are merges reading flush extents: one per flush
		// object and partition not found in the range cache, made per flush.
		compGets := d["kafscale_compaction_get_requests_total"]
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t\n", r.policy, mean*k/gb,
			(flushes+(d.req("put")-flushes)/k)/g,
			(d.req("get")-compGets+compGets/k)/g,
			d.req("list")/k/g,
			d.req("delete")/k/g,
			(flushes+max(0, float64(r.etcdWrites)-flushes)/k)/g)
	}
	tw.Flush()
	for _, r := range results {
		if r == nil {
			continue
		}
		third := max(len(r.objects)/3, 1)
		early, _ := stats(r.objects[:third])
		late, _ := stats(r.objects[len(r.objects)-third:])
		fmt.Fprintf(w, "\n%s: %s; %d records, %.1f MB/s acknowledged over %.0f s; bucket at the window's start %.3f GB, end %.3f GB, objects %d -> %d (mean of the window's first and last thirds %.0f -> %.0f; flush objects %d -> %d); produce errors %d\n",
			r.policy, r.about, r.records, float64(r.producedB)/1e6/r.windowSecs, r.windowSecs,
			float64(r.storedFirst)/gb, float64(r.storedLast)/gb, r.objects[0], r.objects[len(r.objects)-1], early, late, r.flushObjects[0], r.flushObjects[len(r.flushObjects)-1], r.errors)
	}
}

// stats returns the mean and maximum of v.
func stats(v []int64) (mean, peak float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var sum int64
	for _, x := range v {
		sum += x
	}
	return float64(sum) / float64(len(v)), float64(slices.Max(v))
}
