package kafkatest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
)

// ReadAll reads every partition of topic from its start up to the high watermark it had
// when ReadAll began, with a new client, and returns the records in the order fetched.
// Fetch errors are logged (the client retries them); the test fails if the read does not
// complete within 60 s.
func ReadAll(t testing.TB, addr, topic string, partitions int32) []ackcheck.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchMaxBytes(8<<20))
	if err != nil {
		t.Fatalf("cannot create a client for %s: %v", addr, err)
	}
	defer cl.Close()
	ends, err := EndOffsets(ctx, cl, topic, partitions)
	if err != nil {
		t.Fatal(err)
	}
	offsets := make(map[int32]kgo.Offset)
	for p, end := range ends {
		if end > 0 {
			offsets[p] = kgo.NewOffset().AtStart()
		}
	}
	var out []ackcheck.Record
	if len(offsets) == 0 {
		return out
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	next := make(map[int32]int64)    // offset after the last record read, for the failure
	done := make(map[int32]struct{}) // partitions read up to their end
	for len(done) < len(offsets) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading %s back: next offsets %v, ends %v", topic, next, ends)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch error on %s-%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			end := ends[r.Partition]
			if r.Offset >= end {
				return
			}
			out = append(out, ackcheck.Record{Partition: ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, Offset: r.Offset, Value: r.Value})
			next[r.Partition] = r.Offset + 1
			if r.Offset+1 == end {
				done[r.Partition] = struct{}{}
			}
		})
	}
	return out
}

// Duplicates lists the values read at more than one offset. Values are unique per
// producer, so each is a record the broker stored twice; the same offset read twice is not
// one (ackcheck.Ledger.Verify checks that its value did not change).
func Duplicates(read []ackcheck.Record) []string {
	seen := make(map[string]string, len(read))
	var dups []string
	for _, r := range read {
		at := fmt.Sprintf("%s-%d@%d", r.Topic, r.Partition.Partition, r.Offset)
		if prev, ok := seen[string(r.Value)]; ok && prev != at {
			dups = append(dups, fmt.Sprintf("%.20q at %s and %s", r.Value, prev, at))
			continue
		}
		seen[string(r.Value)] = at
	}
	return dups
}

// RequireExactlyOnce fails the test if a value was read at more than one offset, listing
// up to 20 of them.
func RequireExactlyOnce(t testing.TB, read []ackcheck.Record) {
	t.Helper()
	dups := Duplicates(read)
	if len(dups) == 0 {
		return
	}
	n := len(dups)
	if n > 20 {
		dups = append(dups[:20], fmt.Sprintf("... and %d more", n-20))
	}
	t.Fatalf("%d values stored at more than one offset:\n%s", n, strings.Join(dups, "\n"))
}
