package codec

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDecodeRequestRoundTripsEveryKmsgVersion(t *testing.T) {
	forEachKmsgVersion(func(req kmsg.Request) {
		body := req.AppendTo(nil)
		hdr := RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion()}
		got, err := DecodeRequest(hdr, body)
		if err != nil {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
		}
		if again := got.AppendTo(nil); !bytes.Equal(again, body) {
			t.Fatalf("%s v%d: re-encoded %x, want %x", kmsg.NameForKey(req.Key()), req.GetVersion(), again, body)
		}
	})
}

// produceFrame builds a Produce request frame carrying one partition's records.
func produceFrame(tb testing.TB, version int16, records []byte) []byte {
	tb.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = -1
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "orders"
	topic.TopicID = [16]byte{1, 2, 3}
	part := kmsg.NewProduceRequestTopicPartition()
	part.Partition = 3
	part.Records = records
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)[4:]
}

// TestDecodeRequestAliasesRecords pins down that kmsg's ReadFrom does not
// copy a Produce request's Records: they point into the frame, with capacity
// capped at their length (appending cannot overwrite what follows).
func TestDecodeRequestAliasesRecords(t *testing.T) {
	batch := buildBatch(t, batchSpec{records: simpleRecords(3, 10)})
	for _, version := range []int16{3, 8, 9, 12, 13} {
		frame := produceFrame(t, version, batch)
		hdr, body, err := ParseRequestHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		req, err := DecodeRequest(hdr, body)
		if err != nil {
			t.Fatal(err)
		}
		recs := req.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
		if !bytes.Equal(recs, batch) {
			t.Fatalf("v%d: records differ", version)
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(frame)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(recs)))
		if at < start || at+uintptr(len(recs)) > start+uintptr(len(frame)) {
			t.Fatalf("v%d: records were copied out of the frame", version)
		}
		if cap(recs) != len(recs) {
			t.Fatalf("v%d: records cap %d, len %d", version, cap(recs), len(recs))
		}
		SetBaseOffset(recs, 77) // the in-place patch reaches the frame
		if !bytes.Contains(frame, recs) || bytes.Contains(frame, batch) {
			t.Fatalf("v%d: patch did not reach the frame", version)
		}
		SetBaseOffset(recs, 0)
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	good := kmsg.NewPtrMetadataRequest()
	good.Version = 9
	good.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	body := good.AppendTo(nil)
	tests := []struct {
		name string
		hdr  RequestHeader
		body []byte
		want error
	}{
		{"unknown key", RequestHeader{APIKey: 900}, nil, ErrUnknownAPIKey},
		{"version above max", RequestHeader{APIKey: 3, APIVersion: 99}, body, ErrUnsupportedVersion},
		{"negative version", RequestHeader{APIKey: 3, APIVersion: -1}, body, ErrUnsupportedVersion},
		{"truncated body", RequestHeader{APIKey: 3, APIVersion: 9}, body[:len(body)-1], ErrMalformedRequest},
		{"empty body", RequestHeader{APIKey: 0, APIVersion: 9}, nil, ErrMalformedRequest},
		{"huge array count", RequestHeader{APIKey: 3, APIVersion: 4}, []byte{0x7f, 0xff, 0xff, 0xff, 0}, ErrMalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeRequest(tt.hdr, tt.body)
			if !errors.Is(err, tt.want) || req != nil {
				t.Fatalf("got %v, %v; want %v", req, err, tt.want)
			}
		})
	}
}

// TestDecodeRequestSurvivesEveryTruncation guards against kmsg reading past
// a short body: every prefix of every (populated) request must fail cleanly
// or decode, never panic.
func TestDecodeRequestSurvivesEveryTruncation(t *testing.T) {
	batch := buildBatch(t, batchSpec{records: simpleRecords(2, 4)})
	before := decodePanics.Get()
	for _, version := range []int16{3, 9, 13} {
		frame := produceFrame(t, version, batch)
		hdr, body, err := ParseRequestHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		for n := range body {
			if _, err := DecodeRequest(hdr, body[:n]); err == nil {
				t.Fatalf("produce v%d: %d of %d bytes decoded", version, n, len(body))
			}
		}
	}
	forEachKmsgVersion(func(req kmsg.Request) {
		body := req.AppendTo(nil)
		hdr := RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion()}
		for n := range body {
			_, _ = DecodeRequest(hdr, body[:n])
		}
	})
	if got := decodePanics.Get(); got != before {
		t.Fatalf("%d panics recovered", got-before)
	}
}
