package codec

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchShapes are responses of the shapes the broker sends.
func fetchShapes(t *testing.T) map[string]*FetchResponse {
	b1 := buildBatch(t, batchSpec{records: simpleRecords(2, 10)})
	b2 := buildBatch(t, batchSpec{compression: CompressionZstd, records: simpleRecords(50, 100)})
	big := buildBatch(t, batchSpec{records: simpleRecords(3, 200)}) // >127 bytes: multi-byte uvarint lengths
	rack := "rack-a"
	part := func(p int32, recs ...[]byte) FetchPartition {
		return FetchPartition{Partition: p, HighWatermark: 1000 + int64(p), LastStableOffset: 1000 + int64(p), LogStartOffset: 7, Records: recs}
	}
	manyParts := make([]FetchPartition, 200)
	for i := range manyParts {
		manyParts[i] = part(int32(i), b1)
		if i%3 == 0 {
			manyParts[i].Records = nil
		}
	}
	longName := string(bytes.Repeat([]byte("t"), 200))
	return map[string]*FetchResponse{
		"no topics":                       {SessionID: 5},
		"session error":                   {ErrorCode: 70, ThrottleMillis: 100},
		"one empty partition":             {Topics: []FetchTopic{{Topic: "a", TopicID: [16]byte{1}, Partitions: []FetchPartition{part(0)}}}},
		"topic without partitions":        {Topics: []FetchTopic{{Topic: "a", TopicID: [16]byte{1}}}},
		"one batch":                       {Topics: []FetchTopic{{Topic: "orders", TopicID: [16]byte{9, 8}, Partitions: []FetchPartition{part(3, b1)}}}},
		"many batches and an empty slice": {Topics: []FetchTopic{{Topic: "orders", Partitions: []FetchPartition{part(0, b1, b2, nil, big)}}}},
		"partition errors and leader": {Topics: []FetchTopic{{Topic: longName, Partitions: []FetchPartition{
			{Partition: 1, ErrorCode: 6, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, CurrentLeader: &FetchLeader{LeaderID: 2, LeaderEpoch: 9}},
			{Partition: 2, ErrorCode: 1, HighWatermark: 5, CurrentLeader: &FetchLeader{LeaderID: -1, LeaderEpoch: -1}},
			part(3, big),
		}}},
			NodeEndpoints: []FetchNodeEndpoint{{NodeID: 2, Host: "broker-2.example", Port: 9092, Rack: &rack}, {NodeID: 3, Host: "b3", Port: 19092}},
		},
		"many topics and partitions": {Topics: []FetchTopic{
			{Topic: "x", TopicID: [16]byte{1}, Partitions: manyParts},
			{Topic: "y", TopicID: [16]byte{2}, Partitions: []FetchPartition{part(0, b2), part(1)}},
			{Topic: "z", TopicID: [16]byte{3}, Partitions: []FetchPartition{part(0)}},
		}},
	}
}

// kmsgFetch is the reference: header + kmsg.FetchResponse.AppendTo.
func kmsgFetch(version int16, corr int32, r *FetchResponse) []byte {
	k := kmsg.NewPtrFetchResponse()
	k.Version = version
	k.ThrottleMillis, k.ErrorCode, k.SessionID = r.ThrottleMillis, r.ErrorCode, r.SessionID
	for _, t := range r.Topics {
		kt := kmsg.NewFetchResponseTopic()
		kt.Topic, kt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			kp := kmsg.NewFetchResponseTopicPartition()
			kp.Partition, kp.ErrorCode, kp.HighWatermark = p.Partition, p.ErrorCode, p.HighWatermark
			kp.LastStableOffset, kp.LogStartOffset = p.LastStableOffset, p.LogStartOffset
			if p.CurrentLeader != nil {
				kp.CurrentLeader.LeaderID, kp.CurrentLeader.LeaderEpoch = p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch
			}
			kp.RecordBatches = bytes.Join(p.Records, nil)
			if kp.RecordBatches == nil {
				kp.RecordBatches = []byte{}
			}
			kt.Partitions = append(kt.Partitions, kp)
		}
		k.Topics = append(k.Topics, kt)
	}
	if version >= 16 { // kmsg would send it for any flexible version
		for _, e := range r.NodeEndpoints {
			k.Brokers = append(k.Brokers, kmsg.FetchResponseBroker{NodeID: e.NodeID, Host: e.Host, Port: e.Port, Rack: e.Rack})
		}
	}
	return k.AppendTo(AppendResponseHeader(nil, 1, version, corr))
}

func TestAppendFetchResponseMatchesKmsg(t *testing.T) {
	maxV := kmsg.NewPtrFetchResponse().MaxVersion()
	for name, r := range fetchShapes(t) {
		for v := int16(0); v <= maxV; v++ {
			parts, _ := AppendFetchResponse(nil, nil, v, 0x0a0b0c0d, r)
			got := bytes.Join(parts, nil)
			if want := kmsgFetch(v, 0x0a0b0c0d, r); !bytes.Equal(got, want) {
				t.Fatalf("%s v%d: %d bytes differ from kmsg's %d\ngot  %x\nwant %x", name, v, len(got), len(want), got, want)
			}
		}
	}
}

// TestAppendFetchResponseHandsOutRecordSlices: record bytes leave as the
// very slices given, never copied into scratch.
func TestAppendFetchResponseHandsOutRecordSlices(t *testing.T) {
	b1 := buildBatch(t, batchSpec{records: simpleRecords(2, 10)})
	b2 := buildBatch(t, batchSpec{records: simpleRecords(3, 10)})
	r := &FetchResponse{Topics: []FetchTopic{{Topic: "t", Partitions: []FetchPartition{
		{Partition: 0, Records: [][]byte{b1, b2}}, {Partition: 1}, {Partition: 2, Records: [][]byte{b1}},
	}}}}
	prefix := []byte("earlier response")
	scratch := append(make([]byte, 0, 4), prefix...)
	parts, scratch := AppendFetchResponse([][]byte{[]byte("x")}, scratch, 13, 1, r)
	if !bytes.HasPrefix(scratch, prefix) {
		t.Fatal("scratch lost its prefix")
	}
	// "x", header+fields, b1, b2, fields, b1, fields.
	if len(parts) != 7 || string(parts[0]) != "x" {
		t.Fatalf("%d parts", len(parts))
	}
	same := func(a, b []byte) bool { return unsafe.SliceData(a) == unsafe.SliceData(b) && len(a) == len(b) }
	if !same(parts[2], b1) || !same(parts[3], b2) || !same(parts[5], b1) {
		t.Fatal("record parts are not the given slices")
	}
	if got, want := bytes.Join(parts[1:], nil), kmsgFetch(13, 1, r); !bytes.Equal(got, want) {
		t.Fatalf("differs from kmsg")
	}
	for _, i := range []int{1, 4, 6} {
		if cap(parts[i]) != len(parts[i]) {
			t.Fatalf("part %d: cap %d len %d: a later append could overwrite it", i, cap(parts[i]), len(parts[i]))
		}
	}
}

func TestAppendFetchResponseDecodesWithKmsg(t *testing.T) {
	r := fetchShapes(t)["many topics and partitions"]
	for _, v := range []int16{4, 11, 12, 13, 16} {
		parts, _ := AppendFetchResponse(nil, nil, v, 1, r)
		b := bytes.Join(parts, nil)
		hdrLen := len(AppendResponseHeader(nil, 1, v, 1))
		k := kmsg.NewPtrFetchResponse()
		k.Version = v
		if err := k.ReadFrom(b[hdrLen:]); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if got := fmt.Sprint(len(k.Topics), len(k.Topics[0].Partitions), k.Topics[0].Partitions[0].PreferredReadReplica); v >= 11 && got != "3 200 -1" {
			t.Fatalf("v%d: %s", v, got)
		}
	}
}
