package codec

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// APIRange is one row of the broker's API version table (ApiVersions).
type APIRange struct{ Key, Min, Max int16 }

// AppendAPIVersionsResponse appends a complete ApiVersions response (header
// v0 and body) advertising table.
//
// If version is outside what both the table (its ApiVersions row, when it has
// one) and kmsg support, the answer is what Kafka sends: the v0 body with
// UNSUPPORTED_VERSION and the full table, so the client can retry with a
// version both sides know. errCode is ignored in that case.
func AppendAPIVersionsResponse(dst []byte, version int16, correlationID int32, errCode int16,
	table []APIRange, throttleMs int32) []byte {
	if !apiVersionsSupported(version, table) {
		version = 0
		errCode = errCodeUnsupportedVersion
	}
	dst = AppendResponseHeader(dst, apiKeyAPIVersions, version, correlationID)
	resp := kmsg.NewApiVersionsResponse()
	resp.Version = version
	resp.ErrorCode = errCode
	resp.ThrottleMillis = throttleMs
	resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, len(table))
	for i, r := range table {
		resp.ApiKeys[i] = kmsg.ApiVersionsResponseApiKey{ApiKey: r.Key, MinVersion: r.Min, MaxVersion: r.Max}
	}
	return resp.AppendTo(dst)
}

func apiVersionsSupported(version int16, table []APIRange) bool {
	max, _ := MaxVersion(apiKeyAPIVersions)
	if version < 0 || version > max {
		return false
	}
	for _, r := range table {
		if r.Key == apiKeyAPIVersions {
			return version >= r.Min && version <= r.Max
		}
	}
	return true
}
