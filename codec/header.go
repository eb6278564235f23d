package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestHeader is a parsed Kafka request header (v0, v1 or v2).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string // a null client id reads as "", as in Kafka
	Flexible      bool   // header v2: the body is a flexible (KIP-482) version
}

// apiKeyControlledShutdown is the one API whose v0 uses request header v0
// (no client id).
const apiKeyControlledShutdown = 7

// apiKeyAPIVersions is ApiVersions, whose responses always use header v0 so
// that a client can read the answer before it knows the broker's versions.
const apiKeyAPIVersions = 18

// apiInfo is what kmsg knows about one API key.
type apiInfo struct {
	known bool
	max   int16 // highest version kmsg can decode
	// flexFrom is the first flexible request (and response) version, or -1
	// if no version up to max is flexible.
	flexFrom     int16
	respFlexFrom int16
}

// maxScannedKey bounds the scan of kmsg's keys at init; a test proves no key
// above it exists.
const maxScannedKey = 1023

// apis is indexed by API key. Built once from kmsg at init, read-only after,
// so ParseRequestHeader never allocates a kmsg request just to learn whether
// a version is flexible.
var apis = buildAPIs()

func buildAPIs() []apiInfo {
	var out []apiInfo
	for k := int16(0); k <= maxScannedKey; k++ {
		req := kmsg.RequestForKey(k)
		if req == nil {
			continue
		}
		resp := kmsg.ResponseForKey(k)
		for int(k) >= len(out) {
			out = append(out, apiInfo{})
		}
		info := apiInfo{known: true, max: req.MaxVersion(), flexFrom: -1, respFlexFrom: -1}
		for v := int16(0); v <= info.max; v++ {
			req.SetVersion(v)
			if info.flexFrom < 0 && req.IsFlexible() {
				info.flexFrom = v
			}
			resp.SetVersion(v)
			if info.respFlexFrom < 0 && resp.IsFlexible() {
				info.respFlexFrom = v
			}
		}
		out[k] = info
	}
	return out
}

func lookupAPI(key int16) (apiInfo, bool) {
	if key < 0 || int(key) >= len(apis) || !apis[key].known {
		return apiInfo{}, false
	}
	return apis[key], true
}

// MaxVersion returns the highest version of key that kmsg (and so
// DecodeRequest) can decode, and whether key is known at all.
func MaxVersion(key int16) (int16, bool) {
	info, ok := lookupAPI(key)
	return info.max, ok
}

// isFlexible extrapolates past kmsg's max the way Kafka does: a version above
// the first flexible one is flexible. Negative versions are never flexible.
func (a apiInfo) isFlexible(version int16, response bool) bool {
	from := a.flexFrom
	if response {
		from = a.respFlexFrom
	}
	return from >= 0 && version >= from
}

// ParseRequestHeader parses the request header at the start of frame (the
// request bytes after the 4-byte size) and returns the body that follows,
// aliased into frame.
//
// Key, version and correlation id are read first so that the caller can
// answer even a request it cannot decode: for an unknown key the header is
// returned with ErrUnknownAPIKey, for a version outside kmsg's range with
// ErrUnsupportedVersion (ClientID and Flexible filled in best effort, body
// nil). A frame shorter than 8 bytes returns a zero header and
// ErrMalformedRequest: there is no correlation id to answer, so close.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("cannot parse request header: %d bytes, need 8: %w", len(frame), ErrMalformedRequest)
	}
	h.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]

	info, ok := lookupAPI(h.APIKey)
	if !ok {
		// Best effort, for the log line: every header with a client id has it here.
		if id, _, err := readClientID(rest); err == nil {
			h.ClientID = id
		}
		return h, nil, fmt.Errorf("cannot parse request header: key %d version %d: %w", h.APIKey, h.APIVersion, ErrUnknownAPIKey)
	}
	supported := h.APIVersion >= 0 && h.APIVersion <= info.max
	h.Flexible = info.isFlexible(h.APIVersion, false)

	if h.APIKey == apiKeyControlledShutdown && h.APIVersion == 0 {
		return h, rest, nil // request header v0: no client id
	}
	body, err := parseHeaderTail(&h, rest)
	if !supported {
		return h, nil, fmt.Errorf("cannot parse request header: %s version %d (max %d): %w",
			kmsg.NameForKey(h.APIKey), h.APIVersion, info.max, ErrUnsupportedVersion)
	}
	if err != nil {
		return h, nil, fmt.Errorf("cannot parse request header of %s v%d: %w", kmsg.NameForKey(h.APIKey), h.APIVersion, err)
	}
	return h, body, nil
}

// parseHeaderTail reads the client id and, for header v2, the tagged fields.
func parseHeaderTail(h *RequestHeader, b []byte) ([]byte, error) {
	id, b, err := readClientID(b)
	if err != nil {
		return nil, err
	}
	h.ClientID = id
	if h.Flexible {
		if b, err = skipTags(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readClientID reads a nullable (never compact, even in header v2) string.
func readClientID(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, fmt.Errorf("client id length truncated: %w", ErrMalformedRequest)
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	switch {
	case n == -1:
		return "", b, nil
	case n < 0 || n > len(b):
		return "", nil, fmt.Errorf("client id length %d with %d bytes left: %w", n, len(b), ErrMalformedRequest)
	}
	return string(b[:n]), b[n:], nil
}

// skipTags skips a tagged-field section: a count, then (tag, size, bytes).
func skipTags(b []byte) ([]byte, error) {
	n, b, err := readUvarint(b)
	if err != nil {
		return nil, err
	}
	for ; n > 0; n-- {
		if _, b, err = readUvarint(b); err != nil { // tag
			return nil, err
		}
		var size uint64
		if size, b, err = readUvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("tagged field of %d bytes with %d left: %w", size, len(b), ErrMalformedRequest)
		}
		b = b[size:]
	}
	return b, nil
}

// readUvarint reads a Kafka unsigned varint, which fits 32 bits (5 bytes).
func readUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 5 || v > 1<<32-1 {
		return 0, nil, fmt.Errorf("bad unsigned varint: %w", ErrMalformedRequest)
	}
	return v, b[n:], nil
}

// AppendResponseHeader appends the response header for a response to
// (apiKey, apiVersion): v0 (correlation id) or, for flexible versions, v1
// (plus an empty tagged-field section). ApiVersions always uses v0.
func AppendResponseHeader(dst []byte, apiKey, apiVersion int16, correlationID int32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if apiKey == apiKeyAPIVersions {
		return dst
	}
	if info, ok := lookupAPI(apiKey); ok && info.isFlexible(apiVersion, true) {
		dst = append(dst, 0)
	}
	return dst
}
