package pyclients

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jobRecord is a record as the scripts read and write it: bytes as hex, null as null.
type jobRecord struct {
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"` // name, hex value
	Timestamp int64       `json:"timestamp"`
}

// job is what a script reads on stdin (python/jobio.py).
type job struct {
	Mode      string      `json:"mode"` // "produce" or "consume"; confluent_kip848.py has one mode
	Bootstrap string      `json:"bootstrap"`
	Topic     string      `json:"topic"`
	Group     string      `json:"group,omitempty"`
	TimeoutS  int         `json:"timeout_s"`
	Records   []jobRecord `json:"records,omitempty"` // produce: what to send, in order
	Count     int         `json:"count,omitempty"`   // consume: how many records to read

	// For confluent_kip848.py: the topic's partition count and the second batch.
	Partitions int32       `json:"partitions,omitempty"`
	More       []jobRecord `json:"more,omitempty"`
}

// delivery is a producer's report on one record.
type delivery struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Error     *string `json:"error"`
}

// offset is one partition's committed offset as the client reports it.
type offset struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// result is what a script prints on stdout.
type result struct {
	Delivered []*delivery `json:"delivered"` // produce order
	Consumed  []jobRecord `json:"consumed"`  // read order
	Committed []offset    `json:"committed"`
	Errors    []string    `json:"errors"`
}

// scriptTimeout bounds one script run; the script gets half of it for its own deadline, so
// that it reports what it has before it is killed.
const scriptTimeout = 40 * time.Second

// runScript runs python/script with j on stdin and decodes the one JSON result it prints
// into out, failing t if the script fails, prints no result, or reports errors.
func runScript(t *testing.T, python, script string, j job, out any) {
	t.Helper()
	j.TimeoutS = int(scriptTimeout / time.Second / 2)
	in, err := json.Marshal(j)
	if err != nil {
		t.Fatalf("BUG: cannot encode job: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script)
	cmd.Dir = filepath.Join(packageDir(t), "python")
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1")
	cmd.WaitDelay = 5 * time.Second // client threads holding stdout must not outlive a kill
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		t.Fatalf("%s (%s) failed: %v\nstderr:\n%s\nstdout (first 2000 bytes):\n%s", script, j.Mode, err, stderr.Bytes(), clip(stdout.Bytes(), 2000))
	}
	var errs struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &errs); err != nil {
		t.Fatalf("cannot parse the output of %s (%s) %q: %v\nstderr:\n%s", script, j.Mode, clip(stdout.Bytes(), 2000), err, stderr.Bytes())
	}
	if len(errs.Errors) > 0 {
		t.Fatalf("%s (%s) reports errors:\n  %s\nstderr:\n%s", script, j.Mode, strings.Join(errs.Errors, "\n  "), stderr.Bytes())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("cannot parse the output of %s (%s) %q: %v", script, j.Mode, clip(stdout.Bytes(), 2000), err)
	}
	t.Logf("%s %s took %s", script, j.Mode, time.Since(start).Round(time.Millisecond))
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// makeRecords returns n records for partitions partitions, record i on partition
// i%partitions at offset i/partitions of a fresh topic. They cover what clients get wrong:
// null and empty keys and values, no header, one, and a repeated header name with an
// empty value, and distinct timestamps.
func makeRecords(prefix string, n int, partitions int32) []jobRecord {
	base := time.Now().Add(-time.Hour).UnixMilli()
	hx := func(s string) *string { h := hex.EncodeToString([]byte(s)); return &h }
	out := make([]jobRecord, n)
	for i := range out {
		r := jobRecord{
			Partition: int32(i) % partitions,
			Offset:    int64(i) / int64(partitions),
			Key:       hx(fmt.Sprintf("%s-key-%d", prefix, i%17)),
			Value:     hx(fmt.Sprintf("%s-value-%d-%s", prefix, i, strings.Repeat("x", i%50))),
			Headers:   [][2]string{},
			Timestamp: base + int64(i),
		}
		switch i % 7 {
		case 3:
			r.Key = nil
		case 4:
			r.Key = hx("")
		case 5:
			r.Value = hx("")
		case 6:
			r.Value = nil
		}
		switch i % 3 {
		case 1:
			r.Headers = [][2]string{{"trace-id", hex.EncodeToString(fmt.Appendf(nil, "t%d", i))}}
		case 2:
			r.Headers = [][2]string{{"h", hex.EncodeToString([]byte("first"))}, {"h", ""}, {"n", hex.EncodeToString([]byte{0, 1, 0xff})}}
		}
		out[i] = r
	}
	return out
}

// byPartition returns the records of each partition in offset order.
func byPartition(rs []jobRecord) map[int32][]jobRecord {
	out := map[int32][]jobRecord{}
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// sameRecord says how got differs from want, or "" if it does not.
func sameRecord(got, want jobRecord) string {
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%q", *p)
	}
	switch {
	case got.Partition != want.Partition || got.Offset != want.Offset:
		return fmt.Sprintf("is partition %d offset %d, want partition %d offset %d", got.Partition, got.Offset, want.Partition, want.Offset)
	case str(got.Key) != str(want.Key):
		return fmt.Sprintf("has key %s, want %s", str(got.Key), str(want.Key))
	case str(got.Value) != str(want.Value):
		return fmt.Sprintf("has value %s, want %s", str(got.Value), str(want.Value))
	case fmt.Sprint(got.Headers) != fmt.Sprint(want.Headers):
		return fmt.Sprintf("has headers %v, want %v", got.Headers, want.Headers)
	case got.Timestamp != want.Timestamp:
		return fmt.Sprintf("has timestamp %d, want %d", got.Timestamp, want.Timestamp)
	}
	return ""
}
