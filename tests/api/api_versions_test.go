package api

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiRow is one row of the "Supported APIs" table of docs/architecture.md.
type apiRow struct {
	name     string
	min, max int16
	note     string // text after the version range, such as "(CLUSTER_AUTHORIZATION_FAILED for now)"
}

var apiRowRE = regexp.MustCompile(`^\|\s*(\w+)\s*\|\s*(\d+)\s*\|\s*(\d+)-(\d+)\s*([^|]*)\|\s*$`)

// documentedAPIs reads the "Supported APIs" table of docs/architecture.md: what the broker
// must advertise, exactly.
func documentedAPIs(t *testing.T) map[int16]apiRow {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatalf("cannot read the supported-API table: %v", err)
	}
	_, table, ok := strings.Cut(string(doc), "## Supported APIs")
	if !ok {
		t.Fatal(`docs/architecture.md has no "## Supported APIs" section`)
	}
	out := make(map[int16]apiRow)
	for line := range strings.Lines(table) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "## ") {
			break
		}
		m := apiRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, _ := strconv.Atoi(m[2])
		lo, _ := strconv.Atoi(m[3])
		hi, _ := strconv.Atoi(m[4])
		out[int16(key)] = apiRow{name: m[1], min: int16(lo), max: int16(hi), note: strings.TrimSpace(m[5])}
	}
	if len(out) == 0 {
		t.Fatal("docs/architecture.md lists no supported APIs")
	}
	return out
}

// advertisedRanges returns the documented table as key -> [min, max].
func advertisedRanges(t *testing.T) map[int16][2]int16 {
	t.Helper()
	out := make(map[int16][2]int16)
	for k, r := range documentedAPIs(t) {
		out[k] = [2]int16{r.min, r.max}
	}
	return out
}

func apiVersionsReq(version int16) *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = version
	req.ClientSoftwareName = "kafscale-api-test"
	req.ClientSoftwareVersion = "1.0.0"
	return req
}

func TestApiVersions(t *testing.T) {
	advertised := advertisedRanges(t)
	b := startBroker(t)
	ctx := testContext(t)

	// Every version lists exactly the table of docs/architecture.md, each key once.
	for v := int16(0); v <= 4; v++ {
		t.Run(fmt.Sprintf("v%d lists exactly the advertised ranges", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			resp := c.do(apiVersionsReq(v)).(*kmsg.ApiVersionsResponse)
			wantCode(t, fmt.Sprintf("ApiVersions v%d", v), resp.ErrorCode, nil)
			got := make(map[int16][2]int16)
			for _, k := range resp.ApiKeys {
				if _, dup := got[k.ApiKey]; dup {
					t.Errorf("ApiVersions v%d lists key %d twice", v, k.ApiKey)
				}
				got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
			}
			if !maps.Equal(got, advertised) {
				t.Fatalf("ApiVersions v%d lists %v, docs/architecture.md %v", v, got, advertised)
			}
		})
	}

	// KIP-511: an ApiVersions request at a version the broker does not know gets a v0
	// answer (header v0, error code, api keys and nothing else) with UNSUPPORTED_VERSION
	// and at least the ApiVersions range, so the client can retry at a version in range.
	t.Run("v99 gets a v0 answer with UNSUPPORTED_VERSION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		corr := c.send(apiVersionsReq(99))
		body, err := c.readFrame()
		if err != nil {
			t.Fatalf("cannot read the answer to ApiVersions v99: %v", err)
		}
		if got := int32(binary.BigEndian.Uint32(body)); got != corr {
			t.Fatalf("answer has correlation id %d, want %d", got, corr)
		}
		r := kbin.Reader{Src: body[4:]}
		code := r.Int16()
		n := r.ArrayLen()
		if !r.Ok() || n < 0 {
			t.Fatalf("answer % x is not an ApiVersions v0 response", body)
		}
		keys := make(map[int16][2]int16)
		for range n {
			k, lo, hi := r.Int16(), r.Int16(), r.Int16()
			keys[k] = [2]int16{lo, hi}
		}
		if err := r.Complete(); err != nil || len(r.Src) != 0 {
			t.Fatalf("answer % x is not exactly an ApiVersions v0 response (%d bytes left over, err %v)", body, len(r.Src), err)
		}
		wantCode(t, "ApiVersions v99", code, kerr.UnsupportedVersion)
		if keys[18] != advertised[18] {
			t.Fatalf("answer lists ApiVersions as %v, want %v", keys[18], advertised[18])
		}
		for k, rng := range keys {
			if want, ok := advertised[k]; !ok {
				t.Errorf("answer lists key %d as %v, which docs/architecture.md does not list", k, rng)
			} else if want != rng {
				t.Errorf("answer lists key %d as %v, docs/architecture.md %v", k, rng, want)
			}
		}
		// The connection stays usable: the client retries at a supported version.
		resp := c.do(apiVersionsReq(3)).(*kmsg.ApiVersionsResponse)
		wantCode(t, "ApiVersions v3 after v99", resp.ErrorCode, nil)
	})

	// Any other API at a version outside its range closes the connection without an
	// answer, as Kafka does; the broker keeps serving other connections.
	unsupported := []kmsg.Request{
		&kmsg.ProduceRequest{Version: 2, Acks: 1, TimeoutMillis: 1000},
		&kmsg.ProduceRequest{Version: 12, Acks: 1, TimeoutMillis: 1000},
		&kmsg.FetchRequest{Version: 3, ReplicaID: -1},
		&kmsg.FetchRequest{Version: 17, ReplicaID: -1},
		&kmsg.ListOffsetsRequest{Version: 0, ReplicaID: -1},
		&kmsg.MetadataRequest{Version: 13},
		&kmsg.CreateTopicsRequest{Version: 1},
		&kmsg.DeleteTopicsRequest{Version: 0},
		&kmsg.OffsetForLeaderEpochRequest{Version: 1, ReplicaID: -1},
		&kmsg.DescribeConfigsRequest{Version: 0},
		&kmsg.DescribeACLsRequest{Version: 0, ResourceType: 1, ResourcePatternType: 3, Operation: 1, PermissionType: 1},
		&kmsg.DescribeLogDirsRequest{Version: 0},
		&kmsg.DescribeTopicPartitionsRequest{Version: 1},
	}
	for _, req := range unsupported {
		name := fmt.Sprintf("%s v%d closes the connection", kmsg.NameForKey(req.Key()), req.GetVersion())
		t.Run(name, func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			c.send(req)
			read, closed := c.awaitClose()
			switch {
			case !closed:
				t.Fatalf("connection still open 10 s after %s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())
			case len(read) > 0:
				t.Fatalf("broker answered %s v%d with % x, want the connection closed", kmsg.NameForKey(req.Key()), req.GetVersion(), read[:min(len(read), 32)])
			}
			c2 := dial(ctx, t, b.Addr)
			resp := c2.do(apiVersionsReq(3)).(*kmsg.ApiVersionsResponse)
			wantCode(t, "ApiVersions on a fresh connection", resp.ErrorCode, nil)
			if !slices.ContainsFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == req.Key() }) {
				t.Fatalf("broker no longer lists %s", kmsg.NameForKey(req.Key()))
			}
		})
	}
}

// TestProduceListedFromV0ServedFromV3 guards the workaround for librdkafka before 2.11.1
// (librdkafka issue 4956), which sends gzip, snappy and lz4 batches uncompressed unless
// ApiVersions lists Produce v0. Kafka 4 lists Produce from v0 yet refuses v0-v2 if a client
// sends them: its socket server's header check fails with UnsupportedVersionException and
// the connection is closed without an answer (KAFKA-18659). So must KafScale, storing
// nothing and logging why.
func TestProduceListedFromV0ServedFromV3(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	for v := int16(0); v <= 4; v++ {
		resp := c.do(apiVersionsReq(v)).(*kmsg.ApiVersionsResponse)
		wantCode(t, fmt.Sprintf("ApiVersions v%d", v), resp.ErrorCode, nil)
		i := slices.IndexFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == int16(kmsg.Produce) })
		if i < 0 {
			t.Fatalf("ApiVersions v%d does not list Produce", v)
		}
		if k := resp.ApiKeys[i]; k.MinVersion != 0 || k.MaxVersion < 3 {
			t.Fatalf("ApiVersions v%d lists Produce v%d-v%d, want from v0 (as Kafka 4) to at least v3", v, k.MinVersion, k.MaxVersion)
		}
	}
	name := topicName(t)
	createTopic(t, c, name, 1, nil)

	for v := int16(0); v <= 2; v++ {
		t.Run(fmt.Sprintf("v%d closes the connection", v), func(t *testing.T) {
			mark := logMark(b)
			c := dial(ctx, t, b.Addr)
			c.send(produceReq(v, -1, producePart{name, 0, batchOf(3, 10)}))
			read, closed := c.awaitClose()
			switch {
			case !closed:
				t.Fatalf("connection still open 10 s after Produce v%d", v)
			case len(read) > 0:
				t.Fatalf("broker answered Produce v%d with % x, want the connection closed", v, read[:min(len(read), 32)])
			}
			// The close is logged before the connection closes; the log pipe may lag.
			deadline := time.Now().Add(10 * time.Second)
			logged := func() bool {
				log := b.LogTail(256 << 20)
				return strings.Contains(log[min(mark, len(log)):], "KAFKA-18659")
			}
			for !logged() {
				if time.Now().After(deadline) {
					t.Fatalf("broker closed the connection after Produce v%d without a log line naming KAFKA-18659", v)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	// Nothing was stored, and Produce at v3 (the lowest served) still works.
	c = dial(ctx, t, b.Addr)
	if hw := highWatermark(t, c, name, 0); hw != 0 {
		t.Fatalf("high watermark %d after refused Produce v0-v2, want 0", hw)
	}
	p := c.do(produceReq(3, -1, producePart{name, 0, batchOf(3, 10)})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	wantCode(t, "Produce v3", p.ErrorCode, nil)
}
