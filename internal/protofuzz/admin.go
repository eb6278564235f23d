package protofuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// admin is the fuzzer's own well-behaved connection: it learns the broker's APIs, makes
// the pool of topics that fuzzed requests name, and produces and checks the canaries.
type admin struct {
	c    *conn
	corr int32
}

// adminTimeout bounds each administrative round trip.
const adminTimeout = 60 * time.Second

func newAdmin(addr string) (*admin, error) {
	c, err := dial(addr, adminTimeout)
	if err != nil {
		return nil, err
	}
	return &admin{c: c}, nil
}

func (a *admin) close() { a.c.close() }

// do sends req and decodes its answer.
func (a *admin) do(req kmsg.Request) (kmsg.Response, error) {
	a.corr++
	name := kmsg.NameForKey(req.Key())
	if err := a.c.write(Encode(req, a.corr), adminTimeout); err != nil {
		return nil, fmt.Errorf("cannot send %s: %w", name, err)
	}
	body, err := a.c.readFrame(time.Now().Add(adminTimeout))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s response: %w", name, err)
	}
	return decodeResponse(body, req.Key(), req.GetVersion(), a.corr)
}

// apiVersions returns the broker's advertised keys and version ranges.
func (a *admin) apiVersions() (map[int16][2]int16, error) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "kfuzz", "1"
	resp, err := a.do(req)
	if err != nil {
		return nil, err
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != 0 {
		return nil, fmt.Errorf("cannot list the broker's APIs: %v", kerr.ErrorForCode(av.ErrorCode))
	}
	out := make(map[int16][2]int16, len(av.ApiKeys))
	for _, k := range av.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out, nil
}

// poolTopics and poolGroups are the names fuzzed requests use most.
const (
	poolTopics = 6
	poolGroups = 4
)

// makePool creates the pool's topics (1-3 partitions) and learns their ids.
func (a *admin) makePool(seed uint64) (*pool, error) {
	p := &pool{}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 5
	req.TimeoutMillis = 30000
	for i := range poolTopics {
		name := fmt.Sprintf("kfuzz-%d", i)
		p.topics = append(p.topics, name)
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name, int32(1+i%3), 1
		req.Topics = append(req.Topics, t)
	}
	for i := range poolGroups {
		p.groups = append(p.groups, fmt.Sprintf("kfuzz-g%d", i))
	}
	resp, err := a.do(req)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.(*kmsg.CreateTopicsResponse).Topics {
		if t.ErrorCode != 0 && t.ErrorCode != kerr.TopicAlreadyExists.Code {
			return nil, fmt.Errorf("cannot create pool topic %s: %v", t.Topic, kerr.ErrorForCode(t.ErrorCode))
		}
	}
	md, err := a.metadata(p.topics)
	if err != nil {
		return nil, err
	}
	for _, t := range md.Topics {
		p.topicIDs = append(p.topicIDs, t.TopicID)
	}
	return p, nil
}

func (a *admin) metadata(topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for _, name := range topics {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	resp, err := a.do(req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// canaries are the records produced before the run, by partition and offset.
type canaries struct {
	topic string
	id    [16]byte
	want  map[int32]map[int64][2][]byte // partition -> offset -> key, value
}

const (
	canaryPartitions = 3
	canaryPerBatch   = 50
)

// produceCanaries creates the canary topic and produces n records to it with acks=all,
// remembering the offset each got.
func (a *admin) produceCanaries(seed uint64, n int) (*canaries, error) {
	cs := &canaries{topic: fmt.Sprintf("kfuzz-canary-%d", seed), want: make(map[int32]map[int64][2][]byte)}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 5
	ct.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = cs.topic, canaryPartitions, 1
	ct.Topics = append(ct.Topics, t)
	resp, err := a.do(ct)
	if err != nil {
		return nil, err
	}
	if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 && code != kerr.TopicAlreadyExists.Code {
		return nil, fmt.Errorf("cannot create canary topic %s: %v", cs.topic, kerr.ErrorForCode(code))
	}
	md, err := a.metadata([]string{cs.topic})
	if err != nil {
		return nil, err
	}
	cs.id = md.Topics[0].TopicID
	for i := 0; i < n; i += canaryPerBatch {
		p := int32(i / canaryPerBatch % canaryPartitions)
		var kvs [][2][]byte
		for j := i; j < min(i+canaryPerBatch, n); j++ {
			kvs = append(kvs, [2][]byte{fmt.Appendf(nil, "canary-%d", j), bytes.Repeat(fmt.Appendf(nil, "%d.", seed^uint64(j)), 1+j%7)})
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version = 9
		req.Acks = -1
		req.TimeoutMillis = 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = cs.topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = canaryBatch(kvs)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := a.do(req)
		if err != nil {
			return nil, err
		}
		part := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if part.ErrorCode != 0 {
			return nil, fmt.Errorf("cannot produce canary records to %s-%d: %v", cs.topic, p, kerr.ErrorForCode(part.ErrorCode))
		}
		if cs.want[p] == nil {
			cs.want[p] = make(map[int64][2][]byte)
		}
		for j, kv := range kvs {
			cs.want[p][part.BaseOffset+int64(j)] = kv
		}
	}
	return cs, nil
}

// verifyCanaries fetches every canary partition from its start and checks that each
// canary record is at its offset with its key and value.
func (a *admin) verifyCanaries(cs *canaries) error {
	var problems []string
	for p, want := range cs.want {
		got, err := a.fetchAll(cs.topic, p)
		if err != nil {
			return err
		}
		for off, kv := range want {
			g, ok := got[off]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s-%d offset %d (%s) is missing", cs.topic, p, off, kv[0]))
			case !bytes.Equal(g[0], kv[0]) || !bytes.Equal(g[1], kv[1]):
				problems = append(problems, fmt.Sprintf("%s-%d offset %d holds %q=%q, want %q=%q", cs.topic, p, off, g[0], g[1], kv[0], kv[1]))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d canary records damaged: %s", len(problems), strings.Join(problems[:min(len(problems), 10)], "; "))
	}
	return nil
}

// fetchAll reads a partition from offset 0 to its high watermark.
func (a *admin) fetchAll(topic string, p int32) (map[int64][2][]byte, error) {
	out := make(map[int64][2][]byte)
	offset := int64(0)
	for range 10000 {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 11
		req.ReplicaID = -1
		req.MaxBytes = 8 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, offset, 8<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := a.do(req)
		if err != nil {
			return nil, err
		}
		fr := resp.(*kmsg.FetchResponse)
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			return nil, fmt.Errorf("cannot fetch canaries: fetch of %s-%d answered %d topics", topic, p, len(fr.Topics))
		}
		part := fr.Topics[0].Partitions[0]
		if part.ErrorCode != 0 {
			return nil, fmt.Errorf("cannot fetch canaries from %s-%d at %d: %v", topic, p, offset, kerr.ErrorForCode(part.ErrorCode))
		}
		next, err := readBatches(part.RecordBatches, out)
		if err != nil {
			return nil, fmt.Errorf("cannot read canaries of %s-%d at %d: %w", topic, p, offset, err)
		}
		if next > offset {
			offset = next
		}
		if offset >= part.HighWatermark {
			return out, nil
		}
		if next == 0 {
			return nil, fmt.Errorf("cannot fetch canaries: %s-%d answered no batch at %d below high watermark %d", topic, p, offset, part.HighWatermark)
		}
	}
	return nil, errors.New("cannot fetch canaries: too many fetches")
}

// readBatches parses uncompressed v2 batches into out and returns the offset after the last.
func readBatches(b []byte, out map[int64][2][]byte) (int64, error) {
	var next int64
	for len(b) >= 12 {
		size := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if size < 61 || size > len(b) {
			break // a partial batch at the end of a fetch
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:size]); err != nil {
			return 0, err
		}
		b = b[size:]
		if rb.Attributes&7 != 0 {
			return 0, fmt.Errorf("batch at %d is compressed (attributes %#x): not a canary batch", rb.FirstOffset, rb.Attributes)
		}
		recs := rb.Records
		for range rb.NumRecords {
			r := kbin.Reader{Src: recs}
			n := int(r.Varint())
			if !r.Ok() || n < 0 || n > len(r.Src) {
				return 0, fmt.Errorf("batch at %d has a broken record", rb.FirstOffset)
			}
			var rec kmsg.Record
			if err := rec.ReadFrom(recs[:len(recs)-len(r.Src)+n]); err != nil {
				return 0, fmt.Errorf("batch at %d has a broken record: %w", rb.FirstOffset, err)
			}
			recs = r.Src[n:]
			out[rb.FirstOffset+int64(rec.OffsetDelta)] = [2][]byte{rec.Key, rec.Value}
		}
		next = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
	}
	return next, nil
}

// ScanLog returns the lines of a broker log that show an internal error: "BUG:" lines,
// panics, data races and fatal runtime errors.
func ScanLog(log string) []string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, "BUG:") || strings.Contains(line, "panic") ||
			strings.Contains(line, "DATA RACE") || strings.HasPrefix(line, "fatal error:") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}
