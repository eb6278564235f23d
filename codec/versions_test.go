package codec

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var testAPITable = []APIRange{{Key: 0, Min: 3, Max: 11}, {Key: 1, Min: 4, Max: 16}, {Key: 18, Min: 0, Max: 4}}

// decodeAPIVersions splits a response into correlation id and kmsg body.
func decodeAPIVersions(t *testing.T, b []byte, version int16) (int32, *kmsg.ApiVersionsResponse) {
	t.Helper()
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	if err := resp.ReadFrom(b[4:]); err != nil {
		t.Fatalf("v%d: %v", version, err)
	}
	return int32(binary.BigEndian.Uint32(b)), resp
}

func TestAppendAPIVersionsResponseEncodesEachVersion(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		b := AppendAPIVersionsResponse(nil, v, 77, 0, testAPITable, 5)
		corr, resp := decodeAPIVersions(t, b, v)
		if corr != 77 || resp.ErrorCode != 0 {
			t.Fatalf("v%d: corr %d err %d", v, corr, resp.ErrorCode)
		}
		var got []APIRange
		for _, k := range resp.ApiKeys {
			got = append(got, APIRange{k.ApiKey, k.MinVersion, k.MaxVersion})
		}
		if !reflect.DeepEqual(got, testAPITable) {
			t.Fatalf("v%d: table %v", v, got)
		}
		if wantThrottle := int32(5); v >= 1 && resp.ThrottleMillis != wantThrottle {
			t.Fatalf("v%d: throttle %d", v, resp.ThrottleMillis)
		}
		// Byte for byte what kmsg writes after a v0 header.
		want := kmsg.NewPtrApiVersionsResponse()
		want.Version, want.ThrottleMillis, want.ApiKeys = v, 5, resp.ApiKeys
		if exp := want.AppendTo(binary.BigEndian.AppendUint32(nil, 77)); string(exp) != string(b) {
			t.Fatalf("v%d: got %x want %x", v, b, exp)
		}
	}
}

// TestAppendAPIVersionsResponseAnswersUnsupportedWithV0 guards the Kafka
// rule that lets a newer client downgrade: an unsupported ApiVersions
// version gets a v0 body with UNSUPPORTED_VERSION and the full table.
func TestAppendAPIVersionsResponseAnswersUnsupportedWithV0(t *testing.T) {
	for _, v := range []int16{-1, 5 /* above the table's 4 */, 99} {
		b := AppendAPIVersionsResponse(nil, v, 3, 0, testAPITable, 5)
		corr, resp := decodeAPIVersions(t, b, 0)
		if corr != 3 || resp.ErrorCode != 35 || len(resp.ApiKeys) != len(testAPITable) {
			t.Fatalf("v%d: corr %d err %d keys %d", v, corr, resp.ErrorCode, len(resp.ApiKeys))
		}
		if len(b) != 4+2+4+6*len(testAPITable) {
			t.Fatalf("v%d: %d bytes is not a v0 body", v, len(b))
		}
	}
}
