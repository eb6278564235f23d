package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// forEachKmsgVersion calls fn with a default request of every key and
// version kmsg knows.
func forEachKmsgVersion(fn func(req kmsg.Request)) {
	for k := int16(0); k <= maxScannedKey; k++ {
		probe := kmsg.RequestForKey(k)
		if probe == nil {
			continue
		}
		for v := int16(0); v <= probe.MaxVersion(); v++ {
			req := kmsg.RequestForKey(k)
			req.SetVersion(v)
			fn(req)
		}
	}
}

func TestKmsgHasNoKeyAboveScanLimit(t *testing.T) {
	for k := int32(math.MinInt16); k <= math.MaxInt16; k++ {
		if (k < 0 || k > maxScannedKey) && kmsg.RequestForKey(int16(k)) != nil {
			t.Fatalf("kmsg knows key %d, outside the scanned 0..%d: raise maxScannedKey", k, maxScannedKey)
		}
	}
}

func TestParseRequestHeaderRoundTripsEveryKmsgVersion(t *testing.T) {
	for _, clientID := range []*string{nil, kmsg.StringPtr(""), kmsg.StringPtr("franz-go/1.0")} {
		f := kmsg.NewRequestFormatter()
		if clientID != nil {
			f = kmsg.NewRequestFormatter(kmsg.FormatterClientID(*clientID))
		}
		forEachKmsgVersion(func(req kmsg.Request) {
			if req.Key() == 7 && req.GetVersion() == 0 {
				return // kmsg's formatter drops its body; see the ControlledShutdown test
			}
			frame := f.AppendRequest(nil, req, 0x01020304)[4:]
			h, body, err := ParseRequestHeader(frame)
			if err != nil {
				t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
			}
			wantID := ""
			if clientID != nil {
				wantID = *clientID
			}
			want := RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion(), CorrelationID: 0x01020304,
				ClientID: wantID, Flexible: req.IsFlexible()}
			if h != want {
				t.Fatalf("got %+v, want %+v", h, want)
			}
			if wantBody := req.AppendTo(nil); !bytes.Equal(body, wantBody) {
				t.Fatalf("%s v%d: body %x, want %x", kmsg.NameForKey(req.Key()), req.GetVersion(), body, wantBody)
			}
		})
	}
}

// frameOf builds a request frame by hand: key, version, correlation id, then tail.
func frameOf(key, version int16, corr int32, tail ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return append(b, tail...)
}

func TestParseRequestHeaderReadsTaggedFields(t *testing.T) {
	// Produce v9 (flexible): client id "c", two tagged fields, then body.
	frame := frameOf(0, 9, 7, 0, 1, 'c', 2, 0, 3, 1, 2, 3, 5, 0, 0xAA, 0xBB)
	h, body, err := ParseRequestHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	if h.ClientID != "c" || !h.Flexible || !bytes.Equal(body, []byte{0xAA, 0xBB}) {
		t.Fatalf("got %+v body %x", h, body)
	}
}

func TestParseRequestHeaderUnknownKeyKeepsCorrelation(t *testing.T) {
	for _, key := range []int16{-1, 500, math.MaxInt16} {
		h, body, err := ParseRequestHeader(frameOf(key, 3, 42, 0, 2, 'i', 'd'))
		if !errors.Is(err, ErrUnknownAPIKey) {
			t.Fatalf("key %d: err %v", key, err)
		}
		if h.APIKey != key || h.APIVersion != 3 || h.CorrelationID != 42 || h.ClientID != "id" || body != nil {
			t.Fatalf("key %d: got %+v body %x", key, h, body)
		}
	}
}

func TestParseRequestHeaderUnsupportedVersionKeepsHeader(t *testing.T) {
	tests := []struct {
		name     string
		frame    []byte
		flexible bool
		clientID string
	}{
		// A client newer than kmsg: ApiVersions v99 is flexible, so its
		// header is v2 (Kafka's rule), and the client id still reads.
		{"api versions above max", frameOf(18, 99, 5, 0, 1, 'x', 0), true, "x"},
		{"produce above max", frameOf(0, 99, 5, 0, 1, 'x', 0), true, "x"},
		{"negative version", frameOf(0, -1, 5, 0, 1, 'x'), false, "x"},
		{"above max and truncated", frameOf(18, 99, 5), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body, err := ParseRequestHeader(tt.frame)
			if !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("err %v", err)
			}
			if h.CorrelationID != 5 || h.Flexible != tt.flexible || h.ClientID != tt.clientID || body != nil {
				t.Fatalf("got %+v body %x", h, body)
			}
		})
	}
}

func TestParseRequestHeaderRejectsMalformed(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"seven bytes", frameOf(0, 9, 1)[:7]},
		{"no client id length", frameOf(3, 1, 1)},
		{"half client id length", frameOf(3, 1, 1, 0)},
		{"client id longer than frame", frameOf(3, 1, 1, 0, 9, 'a')},
		{"client id length -2", frameOf(3, 1, 1, 0xff, 0xfe)},
		{"flexible without tags", frameOf(3, 9, 1, 0xff, 0xff)},
		{"tag count without tags", frameOf(3, 9, 1, 0xff, 0xff, 2, 0, 0)},
		{"tag larger than frame", frameOf(3, 9, 1, 0xff, 0xff, 1, 0, 9, 1)},
		{"overlong varint", frameOf(3, 9, 1, 0xff, 0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)},
		{"varint beyond 32 bits", frameOf(3, 9, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body, err := ParseRequestHeader(tt.frame)
			if !errors.Is(err, ErrMalformedRequest) || body != nil {
				t.Fatalf("err %v body %x", err, body)
			}
		})
	}
}

func TestParseRequestHeaderControlledShutdownV0HasNoClientID(t *testing.T) {
	h, body, err := ParseRequestHeader(frameOf(7, 0, 9, 0, 0, 0, 1))
	if err != nil || h.ClientID != "" || h.Flexible || !bytes.Equal(body, []byte{0, 0, 0, 1}) {
		t.Fatalf("got %+v body %x err %v", h, body, err)
	}
}

func TestAppendResponseHeader(t *testing.T) {
	tests := []struct {
		name         string
		key, version int16
		want         []byte
	}{
		{"produce v8 header v0", 0, 8, []byte{0, 0, 0, 9}},
		{"produce v9 header v1", 0, 9, []byte{0, 0, 0, 9, 0}},
		{"fetch v11 header v0", 1, 11, []byte{0, 0, 0, 9}},
		{"fetch v12 header v1", 1, 12, []byte{0, 0, 0, 9, 0}},
		{"api versions v3 stays header v0", 18, 3, []byte{0, 0, 0, 9}},
		{"api versions v99 stays header v0", 18, 99, []byte{0, 0, 0, 9}},
		{"unknown key header v0", 999, 5, []byte{0, 0, 0, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendResponseHeader([]byte{}, tt.key, tt.version, 9)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x, want %x", got, tt.want)
			}
		})
	}
}

func TestResponseHeaderFollowsKmsgResponseFlexibility(t *testing.T) {
	forEachKmsgVersion(func(req kmsg.Request) {
		resp := req.ResponseKind()
		resp.SetVersion(req.GetVersion())
		want := 4
		if resp.IsFlexible() && req.Key() != 18 {
			want = 5
		}
		if got := len(AppendResponseHeader(nil, req.Key(), req.GetVersion(), 1)); got != want {
			t.Fatalf("%s v%d: header %d bytes, want %d", kmsg.NameForKey(req.Key()), req.GetVersion(), got, want)
		}
	})
}

func TestMaxVersionMatchesKmsg(t *testing.T) {
	if v, ok := MaxVersion(0); !ok || v != kmsg.NewPtrProduceRequest().MaxVersion() {
		t.Fatalf("produce: %d %v", v, ok)
	}
	if _, ok := MaxVersion(-1); ok {
		t.Fatal("key -1 known")
	}
}
