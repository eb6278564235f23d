package compat

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch compression codecs: the low three bits of a v2 batch's attributes.
const (
	codecNone   int8 = 0
	codecGzip   int8 = 1
	codecSnappy int8 = 2
	codecLZ4    int8 = 3
	codecZstd   int8 = 4
)

var codecNames = map[int8]string{codecNone: "none", codecGzip: "gzip", codecSnappy: "snappy", codecLZ4: "lz4", codecZstd: "zstd"}

// storedBatch is one record batch as a Fetch from the start of a partition returns it.
type storedBatch struct {
	baseOffset int64
	records    int32
	codec      int8
}

// storedBatches reads topic/partition from offset 0 with one raw Fetch and returns its
// batches' headers as stored. It fails t unless they reach the high watermark, so every
// batch of a small partition is judged.
func storedBatches(t *testing.T, addr, topic string, partition int32) []storedBatch {
	t.Helper()
	addr = leaderAddr(t, addr, topic, partition)
	w := dialWire(t, addr)
	raw, hw := fetchFromStart(t, w, brokerVersions(t, addr), topic, partition)
	var out []storedBatch
	next := int64(0)
	for len(raw) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Fatalf("%s/%d: cannot parse the stored batch at offset %d: %v", topic, partition, next, err)
		}
		n := 12 + int(b.Length) // base offset and length precede what Length counts
		if n > len(raw) {
			break // a partial batch at the end of a fetch is allowed; the check below judges it
		}
		raw = raw[n:]
		out = append(out, storedBatch{baseOffset: b.FirstOffset, records: b.NumRecords, codec: int8(b.Attributes & 0x7)})
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
	}
	if next != hw {
		t.Fatalf("%s/%d: stored batches end at offset %d, high watermark %d", topic, partition, next, hw)
	}
	return out
}

// leaderAddr returns the address of the broker leading topic/partition, as Metadata from
// the broker at addr says (addr itself on a one-broker cluster).
func leaderAddr(t *testing.T, addr, topic string, partition int32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil {
		t.Fatalf("cannot read the metadata of %s: %v", topic, err)
	}
	for _, mt := range resp.Topics {
		for _, mp := range mt.Partitions {
			if mp.Partition != partition {
				continue
			}
			for _, b := range resp.Brokers {
				if b.NodeID == mp.Leader {
					return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
				}
			}
		}
	}
	t.Fatalf("Metadata names no live leader of %s/%d: %+v", topic, partition, resp)
	return ""
}

// checkStoredCodec fails t unless every batch stored in topic/partition is compressed with
// want, and returns how many records they hold.
func checkStoredCodec(t *testing.T, addr, topic string, partition int32, want int8) int64 {
	t.Helper()
	var records int64
	for _, b := range storedBatches(t, addr, topic, partition) {
		if b.codec != want {
			t.Errorf("%s/%d: batch at offset %d (%d records) stored with codec %s, the client was asked for %s",
				topic, partition, b.baseOffset, b.records, codecNames[b.codec], codecNames[want])
		}
		records += int64(b.records)
	}
	return records
}

// TestKcatStoresEachCodecAsSent guards against the broker making librdkafka drop
// compression: librdkafka before 2.11.1 (Debian's kcat is 2.0.2) sends gzip, snappy and lz4
// batches uncompressed when a broker advertises Produce from v3 rather than v0 (librdkafka
// issue 4956, KAFKA-18659), and KafScale once did. Each codec kcat is asked for must be the
// codec of every stored batch, and the records must read back unchanged.
func TestKcatStoresEachCodecAsSent(t *testing.T) {
	const n = 200
	kcat := lookTool(t, "kcat")
	addr := startBroker(t)
	for _, codec := range []int8{codecNone, codecGzip, codecSnappy, codecLZ4, codecZstd} {
		name := codecNames[codec]
		t.Run(name, func(t *testing.T) {
			topic := topicName("kcat-codec-" + name)
			createTopic(t, addr, topic, 1)
			// Repetitive values compress well: librdkafka sends a batch uncompressed when
			// compression would not make it smaller, which would hide nothing but is not the
			// case under test.
			var in bytes.Buffer
			var want []string
			for i := range n {
				v := fmt.Sprintf("%s record %d %s", name, i, strings.Repeat("compressible ", 8))
				want = append(want, v)
				fmt.Fprintln(&in, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
			defer cancel()
			run(ctx, t, in.Bytes(), "", kcat, kcatArgs(addr, "-P", "-t", topic, "-p", "0", "-z", name, "-X", "acks=all")...)

			if got := checkStoredCodec(t, addr, topic, 0, codec); got != n {
				t.Fatalf("stored batches hold %d records, kcat sent %d", got, n)
			}
			out := run(ctx, t, nil, "", kcat, kcatArgs(addr, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%s\n")...)
			if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); !slices.Equal(got, want) {
				t.Fatalf("kcat reads back %d values, first %q; want %d, first %q", len(got), got[0], len(want), want[0])
			}
		})
	}
}
