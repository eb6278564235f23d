package codec

import (
	"encoding/binary"
	"slices"
)

// FetchResponse is a Fetch response for AppendFetchResponse. Fields follow
// kmsg.FetchResponse; version-gated ones are written only where the version
// has them.
type FetchResponse struct {
	ThrottleMillis int32 // v1+
	ErrorCode      int16 // v7+
	SessionID      int32 // v7+
	Topics         []FetchTopic
	// NodeEndpoints (v16+, tag 0, KIP-951) names the leaders that partitions
	// with NOT_LEADER_OR_FOLLOWER point to in CurrentLeader. Ignored below v16.
	NodeEndpoints []FetchNodeEndpoint
}

// FetchTopic is one topic of a FetchResponse.
type FetchTopic struct {
	Topic      string   // v0-v12
	TopicID    [16]byte // v13+
	Partitions []FetchPartition
}

// FetchPartition is one partition of a FetchTopic. Aborted transactions are
// always null (read_uncommitted: what Kafka sends), the preferred read
// replica (v11+) is always -1 (KafScale has no follower to prefer; a field
// would make its zero value point clients at broker 0), the diverging epoch
// and snapshot id tags are never sent.
type FetchPartition struct {
	Partition        int32
	ErrorCode        int16
	HighWatermark    int64
	LastStableOffset int64 // v4+
	LogStartOffset   int64 // v5+
	// CurrentLeader (v12+ tag 1) is sent when non-nil and not (-1, -1), as kmsg does.
	CurrentLeader *FetchLeader
	// Records are whole batches, sent in order without being copied. No
	// records encode as an empty (never null) byte array, as Kafka does.
	Records [][]byte
}

// FetchLeader is a partition's current leader (KIP-951).
type FetchLeader struct {
	LeaderID    int32
	LeaderEpoch int32
}

// FetchNodeEndpoint is a broker named in FetchResponse.NodeEndpoints.
type FetchNodeEndpoint struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string
}

// fetchAPIKey is Fetch's API key.
const fetchAPIKey = 1

// AppendFetchResponse encodes r as a Fetch response of the given version,
// header included (no size prefix). All bytes except record batches are
// appended to scratch; parts gets, in order, slices of scratch and each
// partition's record slices as their own entries, so the response can be
// written with writev without copying records. Parts are appended to parts;
// the grown scratch is returned for reuse once the parts are written.
//
// A part of scratch taken before scratch grew keeps pointing into the old
// array, whose bytes are final and no longer written: that is correct, just
// less compact. The initial reservation makes growth rare.
//
// The concatenation of the new parts equals the response header plus
// kmsg.FetchResponse.AppendTo for the same values, for versions 0-18
// (TestAppendFetchResponseMatchesKmsg). kmsg writes NodeEndpoints for any
// flexible version; this follows Kafka's schema (v16+).
func AppendFetchResponse(parts [][]byte, scratch []byte, version int16, correlationID int32, r *FetchResponse) ([][]byte, []byte) {
	flex := version >= 12
	scratch = slices.Grow(scratch, fetchScratchEstimate(r))
	seg := len(scratch)
	scratch = AppendResponseHeader(scratch, fetchAPIKey, version, correlationID)
	if version >= 1 {
		scratch = appendInt32(scratch, r.ThrottleMillis)
	}
	if version >= 7 {
		scratch = appendInt16(scratch, r.ErrorCode)
		scratch = appendInt32(scratch, r.SessionID)
	}
	scratch = appendArrayLen(scratch, len(r.Topics), flex)
	for ti := range r.Topics {
		t := &r.Topics[ti]
		if version <= 12 {
			scratch = appendString(scratch, t.Topic, flex)
		} else {
			scratch = append(scratch, t.TopicID[:]...)
		}
		scratch = appendArrayLen(scratch, len(t.Partitions), flex)
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			scratch = appendInt32(scratch, p.Partition)
			scratch = appendInt16(scratch, p.ErrorCode)
			scratch = appendInt64(scratch, p.HighWatermark)
			if version >= 4 {
				scratch = appendInt64(scratch, p.LastStableOffset)
			}
			if version >= 5 {
				scratch = appendInt64(scratch, p.LogStartOffset)
			}
			if version >= 4 { // aborted transactions: null
				if flex {
					scratch = append(scratch, 0)
				} else {
					scratch = appendInt32(scratch, -1)
				}
			}
			if version >= 11 {
				scratch = appendInt32(scratch, -1) // preferred read replica
			}
			n := 0
			for _, b := range p.Records {
				n += len(b)
			}
			if flex {
				scratch = binary.AppendUvarint(scratch, uint64(n)+1)
			} else {
				scratch = appendInt32(scratch, int32(n))
			}
			if n > 0 {
				parts = append(parts, scratch[seg:len(scratch):len(scratch)])
				for _, b := range p.Records {
					if len(b) > 0 {
						parts = append(parts, b)
					}
				}
				seg = len(scratch)
			}
			if flex {
				if l := p.CurrentLeader; l != nil && (l.LeaderID != -1 || l.LeaderEpoch != -1) {
					scratch = append(scratch, 1, 1, 9) // one tag: tag 1, 9 bytes
					scratch = appendInt32(scratch, l.LeaderID)
					scratch = appendInt32(scratch, l.LeaderEpoch)
					scratch = append(scratch, 0) // its own empty tags
				} else {
					scratch = append(scratch, 0)
				}
			}
		}
		if flex {
			scratch = append(scratch, 0)
		}
	}
	if flex {
		if len(r.NodeEndpoints) > 0 && version >= 16 {
			scratch = append(scratch, 1, 0) // one tag: tag 0
			scratch = binary.AppendUvarint(scratch, uint64(nodeEndpointsSize(r.NodeEndpoints)))
			scratch = appendArrayLen(scratch, len(r.NodeEndpoints), true)
			for i := range r.NodeEndpoints {
				e := &r.NodeEndpoints[i]
				scratch = appendInt32(scratch, e.NodeID)
				scratch = appendString(scratch, e.Host, true)
				scratch = appendInt32(scratch, e.Port)
				scratch = appendNullableString(scratch, e.Rack, true)
				scratch = append(scratch, 0)
			}
		} else {
			scratch = append(scratch, 0)
		}
	}
	if len(scratch) > seg {
		parts = append(parts, scratch[seg:len(scratch):len(scratch)])
	}
	return parts, scratch
}

// fetchScratchEstimate is a generous guess of the non-record bytes, so that
// scratch usually grows at most once.
func fetchScratchEstimate(r *FetchResponse) int {
	n := 32 + 64*len(r.NodeEndpoints)
	for i := range r.Topics {
		n += 32 + len(r.Topics[i].Topic) + 72*len(r.Topics[i].Partitions)
	}
	return n
}

// nodeEndpointsSize is the encoded size of the NodeEndpoints tag's value.
func nodeEndpointsSize(eps []FetchNodeEndpoint) int {
	n := uvarintLen(uint64(len(eps)) + 1)
	for i := range eps {
		n += 4 + uvarintLen(uint64(len(eps[i].Host))+1) + len(eps[i].Host) + 4 + 1
		if rack := eps[i].Rack; rack == nil {
			n++
		} else {
			n += uvarintLen(uint64(len(*rack))+1) + len(*rack)
		}
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendInt16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendArrayLen(b []byte, n int, flex bool) []byte {
	if flex {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return appendInt32(b, int32(n))
}

func appendString(b []byte, s string, flex bool) []byte {
	if flex {
		b = binary.AppendUvarint(b, uint64(len(s))+1)
	} else {
		b = appendInt16(b, int16(len(s)))
	}
	return append(b, s...)
}

func appendNullableString(b []byte, s *string, flex bool) []byte {
	if s == nil {
		if flex {
			return append(b, 0)
		}
		return appendInt16(b, -1)
	}
	return appendString(b, *s, flex)
}
