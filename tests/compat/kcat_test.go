package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// kcatTimeout bounds each kcat run; kcat (librdkafka 2.0.2, Debian's package) starts
// in milliseconds.
const kcatTimeout = 30 * time.Second

// kcatArgs are the arguments every kcat run shares.
func kcatArgs(addr string, more ...string) []string {
	return append([]string{"-b", addr, "-q"}, more...)
}

func TestKcatProducesAndConsumes(t *testing.T) {
	const (
		n          = 300
		partitions = 2
	)
	kcat := lookTool(t, "kcat")
	addr := startBroker(t)
	topic := topicName("kcat")
	createTopic(t, addr, topic, partitions)

	// kcat sets the same headers on every message and its own timestamps; lines can carry
	// neither null nor empty keys.
	want := makeRecords("kcat", n, partitions, false)
	for i := range want {
		want[i].Headers = []hdr{{Key: "client", Value: []byte("kcat")}, {Key: "lib", Value: []byte("librdkafka")}}
		want[i].Timestamp = 0
	}
	for p := range countByPartition(want) {
		var in bytes.Buffer
		for _, r := range want {
			if r.Partition == p {
				fmt.Fprintf(&in, "%s:%s\n", r.Key, r.Value)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
		// librdkafka 2.0.2 does not default to idempotence; users turn it on like this (it
		// implies acks=all, which is also set explicitly).
		run(ctx, t, in.Bytes(), "", kcat, kcatArgs(addr, "-P", "-X", "enable.idempotence=true",
			"-t", topic, "-p", strconv.Itoa(int(p)), "-K", ":", "-z", "zstd", "-X", "acks=all",
			"-H", "client=kcat", "-H", "lib=librdkafka")...)
		cancel()
	}

	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	out := run(ctx, t, nil, "", kcat, kcatArgs(addr, "-C", "-t", topic, "-o", "beginning", "-e", "-J")...)
	var got []rec
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct {
			Partition int32    `json:"partition"`
			Offset    int64    `json:"offset"`
			Key       *string  `json:"key"`
			Payload   *string  `json:"payload"`
			Headers   []string `json:"headers"` // name, value, name, value, ...
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("cannot parse kcat -J line %q: %v", sc.Bytes(), err)
		}
		g := rec{Partition: m.Partition, Offset: m.Offset}
		if m.Key != nil {
			g.Key = []byte(*m.Key)
		}
		if m.Payload != nil {
			g.Value = []byte(*m.Payload)
		}
		for i := 0; i+1 < len(m.Headers); i += 2 {
			g.Headers = append(g.Headers, hdr{Key: m.Headers[i], Value: []byte(m.Headers[i+1])})
		}
		got = append(got, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("cannot read kcat output: %v", err)
	}
	checkLog(t, want, got)
	// One kcat run, so one producer id, per partition.
	seen := make(map[int64]int32)
	for p, id := range checkIdempotentProducers(t, addr, topic, countByPartition(want), false) {
		if q, ok := seen[id]; ok {
			t.Errorf("the kcat runs for partitions %d and %d got the same producer id %d", q, p, id)
		}
		seen[id] = p
	}
}

func TestKcatListsMetadata(t *testing.T) {
	const partitions = 3
	kcat := lookTool(t, "kcat")
	addr := startBroker(t)
	topic := topicName("kcat-meta")
	createTopic(t, addr, topic, partitions)

	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	out := run(ctx, t, nil, "", kcat, kcatArgs(addr, "-L", "-J", "-t", topic)...)
	var md struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Error      string `json:"error"`
			Partitions []struct {
				Partition int32 `json:"partition"`
				Leader    int32 `json:"leader"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("cannot parse kcat -L -J output %q: %v", out, err)
	}
	if len(md.Brokers) != 1 {
		t.Fatalf("kcat -L lists %d brokers, want 1: %s", len(md.Brokers), out)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != topic || md.Topics[0].Error != "" {
		t.Fatalf("kcat -L does not list topic %s alone without error: %s", topic, out)
	}
	seen := make(map[int32]bool)
	for _, p := range md.Topics[0].Partitions {
		if p.Leader != md.Brokers[0].ID {
			t.Errorf("partition %d led by %d, want broker %d", p.Partition, p.Leader, md.Brokers[0].ID)
		}
		seen[p.Partition] = true
	}
	for p := int32(0); p < partitions; p++ {
		if !seen[p] {
			t.Errorf("kcat -L does not list partition %d: %s", p, out)
		}
	}
}
