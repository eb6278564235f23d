package compat

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rec is one record as every client in this package sees it, so that one check serves
// them all.
type rec struct {
	Partition int32
	Offset    int64  // the offset it must get on a fresh topic, or the offset read
	Key       []byte // nil is a null key
	Value     []byte // nil is a null value
	Headers   []hdr
	Timestamp int64 // unix milliseconds; 0 leaves it unchecked
}

// hdr is one record header.
type hdr struct {
	Key   string
	Value []byte
}

// makeRecords returns n records for a fresh topic with the given partitions, record i
// going to partition i%partitions, each carrying the offset it must get there. Keys,
// values, headers and timestamps derive from i and tag; values repeat a pattern so that
// every codec shrinks them. With nulls, some keys and values are null and some empty,
// for the clients that tell null from empty.
func makeRecords(tag string, n int, partitions int32, nulls bool) []rec {
	base := time.Now().Add(-time.Hour).UnixMilli()
	next := make([]int64, partitions)
	out := make([]rec, n)
	for i := range out {
		p := int32(i) % partitions
		r := rec{
			Partition: p,
			Offset:    next[p],
			Key:       fmt.Appendf(nil, "%s-key-%06d", tag, i),
			// At least 64 repeated bytes: franz-go sends a batch uncompressed when its codec
			// does not shrink it, so even a batch of one record must compress for the codec
			// tests to see the codec they asked for.
			Value: fmt.Appendf(nil, "%s-value-%06d-%s", tag, i, strings.Repeat("abcdefgh", 8+i%16)),
			Headers: []hdr{
				{Key: "idx", Value: fmt.Appendf(nil, "%d", i)},
				{Key: "client", Value: []byte(tag)},
			},
			Timestamp: base + int64(i),
		}
		next[p]++
		if nulls {
			switch {
			case i%97 == 1:
				r.Key = nil
			case i%89 == 2:
				r.Key = []byte{}
			case i%101 == 3:
				r.Value = nil
			case i%103 == 4:
				r.Value = []byte{}
			}
		}
		out[i] = r
	}
	return out
}

// checkLog fails t unless got, the records read back from a fresh topic, holds every
// record of want exactly once, each partition at dense offsets from 0 in produce order,
// with key, value, headers and (where want has one) timestamp intact.
func checkLog(t *testing.T, want, got []rec) {
	t.Helper()
	wantBy := byPartition(want)
	gotBy := byPartition(got)
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for p := range gotBy {
		if _, ok := wantBy[p]; !ok {
			add("partition %d: %d records read, none produced there", p, len(gotBy[p]))
		}
	}
	for p, ws := range wantBy {
		gs := gotBy[p]
		if len(gs) != len(ws) {
			add("partition %d: read %d records, produced %d", p, len(gs), len(ws))
		}
		for k := 0; k < len(gs) && k < len(ws); k++ {
			g, w := gs[k], ws[k]
			if g.Offset != w.Offset {
				add("partition %d: record %d read at offset %d, want %d (offsets must be dense and increasing)", p, k, g.Offset, w.Offset)
				continue
			}
			if diff := diffRec(w, g); diff != "" {
				add("partition %d offset %d: %s", p, g.Offset, diff)
			}
		}
	}
	if len(problems) > 0 {
		t.Fatalf("read back %d records, produced %d; first problems:\n  %s", len(got), len(want), strings.Join(problems, "\n  "))
	}
}

func byPartition(rs []rec) map[int32][]rec {
	out := make(map[int32][]rec)
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// diffRec names the first field in which got differs from want, or returns "".
func diffRec(want, got rec) string {
	if d := diffBytes("key", want.Key, got.Key); d != "" {
		return d
	}
	if d := diffBytes("value", want.Value, got.Value); d != "" {
		return d
	}
	if len(want.Headers) != len(got.Headers) {
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range want.Headers {
		if want.Headers[i].Key != got.Headers[i].Key {
			return fmt.Sprintf("header %d key %q, want %q", i, got.Headers[i].Key, want.Headers[i].Key)
		}
		if d := diffBytes("header "+want.Headers[i].Key, want.Headers[i].Value, got.Headers[i].Value); d != "" {
			return d
		}
	}
	if want.Timestamp != 0 && want.Timestamp != got.Timestamp {
		return fmt.Sprintf("timestamp %d, want %d", got.Timestamp, want.Timestamp)
	}
	return ""
}

func diffBytes(what string, want, got []byte) string {
	switch {
	case (want == nil) != (got == nil):
		return fmt.Sprintf("%s null=%t, want null=%t", what, got == nil, want == nil)
	case !bytes.Equal(want, got):
		return fmt.Sprintf("%s %q, want %q", what, clip(got), clip(want))
	}
	return ""
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// countByPartition returns how many of rs go to each partition.
func countByPartition(rs []rec) map[int32]int64 {
	out := make(map[int32]int64)
	for _, r := range rs {
		out[r.Partition]++
	}
	return out
}
