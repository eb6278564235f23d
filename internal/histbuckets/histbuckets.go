// Package histbuckets holds the upper bounds of the broker's Prometheus histograms, so that
// histograms of one kind (latencies in milliseconds, counts) share their buckets and a
// dashboard can compare them.
package histbuckets

// Milliseconds are latency bounds in ms, from a local etcd commit to a slow object store.
var Milliseconds = []float64{0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// Counts are bounds of counts of things (partitions in a flush object).
var Counts = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}

// Bytes are size bounds in bytes, 1 KiB to 256 MiB (flush objects: from one small batch
// to --flush-bytes and past it).
var Bytes = []float64{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20}

// Seconds are latency bounds in seconds (the unit of the newer `_seconds` histograms), from a
// cached read to a long poll or a slow object store.
var Seconds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
