package segment

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The object store holds these kinds of objects, each under its prefix, defined here
// once (GC lists each prefix; docs/object-format.md, docs/fsck.md):
//
//	flush/<broker-id>/<incarnation, 20 digits>/<ULID>          flush objects (FlushKey)
//	segments/<topic-id hex>/<partition>/<ULID>                 merged segments (SegmentKey)
//	producer-state/<topic-id hex>/<partition>/<ULID>           producer-state snapshots
//	                                                           too large for a checkpoint
//	topics/<topic-id hex>/<ULID>                               topic manifests (bucketmeta)
//	group-offsets/<escaped group>/<ULID>                       committed offsets (bucketmeta)
//	log-starts/<broker-id>/<ULID>                              durable log starts (bucketmeta)
//
// The zero-padded incarnation and the ULID (48-bit millisecond time, then 80 random bits,
// in Crockford base32) make a broker's flush keys list in (incarnation, time) order, and
// the creation time can be read from the key without a request (for gc.grace).
const (
	FlushPrefix         = "flush/"
	SegmentPrefix       = "segments/"
	ProducerStatePrefix = "producer-state/"
	// TopicManifestPrefix and GroupOffsetsPrefix hold the copies of etcd's topics and
	// committed group offsets that `kafscale fsck --rebuild` restores (package bucketmeta).
	TopicManifestPrefix = "topics/"
	GroupOffsetsPrefix  = "group-offsets/"
	// LogStartsPrefix holds each broker's copy of the log starts of the partitions it
	// leads that DeleteRecords or retention moved (package bucketmeta).
	LogStartsPrefix = "log-starts/"
)

// flushKeyPrefix is FlushPrefix, the name the key codec below uses.
const flushKeyPrefix = FlushPrefix

// crockford is the ULID alphabet: base32 without I, L, O, U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulidLen is the length of an encoded ULID.
const ulidLen = 26

// maxULIDTime is the largest millisecond time a ULID holds (48 bits).
const maxULIDTime = 1<<48 - 1

// FlushKey returns a new flush object key for t with fresh randomness. Keys sort by
// millisecond; use KeyGen where keys of one broker must also sort within a millisecond.
func FlushKey(brokerID int32, incarnation uint64, t time.Time) string {
	var r [10]byte
	rand.Read(r[:])
	return appendFlushKey(nil, brokerID, incarnation, ulidMillis(t), r)
}

// KeyGen generates flush object keys that strictly increase, even within one millisecond
// or when the clock steps back (as ULID's monotonic mode does). Safe for concurrent use.
type KeyGen struct {
	mu      sync.Mutex // guards the fields below
	started bool
	lastMs  uint64
	last    [10]byte // random part of the last ULID
}

// FlushKey returns a flush object key for t, greater than every key this KeyGen returned
// before for the same broker and incarnation.
func (g *KeyGen) FlushKey(brokerID int32, incarnation uint64, t time.Time) string {
	ms := ulidMillis(t)
	g.mu.Lock()
	if g.started && ms <= g.lastMs {
		ms = g.lastMs
		if !incr80(&g.last) {
			// 2^80 keys in one millisecond: borrow the next one.
			ms++
			rand.Read(g.last[:])
		}
	} else {
		rand.Read(g.last[:])
	}
	g.started = true
	g.lastMs = ms
	r := g.last
	g.mu.Unlock()
	return appendFlushKey(nil, brokerID, incarnation, ms, r)
}

// incr80 adds one to a big-endian 80-bit number, reporting false on overflow.
func incr80(b *[10]byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

// ulidMillis returns t as milliseconds since the Unix epoch, clamped to what a ULID holds.
func ulidMillis(t time.Time) uint64 {
	return uint64(min(max(t.UnixMilli(), 0), maxULIDTime))
}

func appendFlushKey(dst []byte, brokerID int32, incarnation uint64, ms uint64, r [10]byte) string {
	dst = append(dst, flushKeyPrefix...)
	dst = strconv.AppendInt(dst, int64(brokerID), 10)
	dst = append(dst, '/')
	inc := strconv.FormatUint(incarnation, 10)
	for range 20 - len(inc) {
		dst = append(dst, '0')
	}
	dst = append(dst, inc...)
	dst = append(dst, '/')
	return string(appendULID(dst, ms, r))
}

// appendULID appends the 26-character encoding of the 128-bit value ms<<80 | r.
func appendULID(dst []byte, ms uint64, r [10]byte) []byte {
	hi := ms<<16 | uint64(binary.BigEndian.Uint16(r[0:2]))
	lo := binary.BigEndian.Uint64(r[2:10])
	var out [ulidLen]byte
	for i := ulidLen - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return append(dst, out[:]...)
}

// ParseFlushKey splits a key made by FlushKey into its broker id, incarnation and the
// millisecond the key was made for.
func ParseFlushKey(key string) (brokerID int32, incarnation uint64, t time.Time, err error) {
	fail := func(why string) (int32, uint64, time.Time, error) {
		return 0, 0, time.Time{}, fmt.Errorf("cannot parse flush key %q: %s", key, why)
	}
	rest, ok := strings.CutPrefix(key, flushKeyPrefix)
	if !ok {
		return fail("no " + flushKeyPrefix + " prefix")
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return fail("want flush/<broker-id>/<incarnation>/<ulid>")
	}
	b, err := strconv.ParseInt(parts[0], 10, 32)
	if err != nil {
		return fail("bad broker id")
	}
	inc, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return fail("bad incarnation")
	}
	id := parts[2]
	if len(id) != ulidLen || id[0] > '7' {
		return fail("bad ulid")
	}
	var ms uint64
	for i := range len(id) {
		v := strings.IndexByte(crockford, id[i])
		if v < 0 {
			return fail("bad ulid character")
		}
		if i < 10 { // the first 50 bits: 2 zero bits and the 48-bit time
			ms = ms<<5 | uint64(v)
		}
	}
	return int32(b), inc, time.UnixMilli(int64(ms)), nil
}

// SegmentKey returns a new key for a merged segment of one partition:
// segments/<topic-id hex>/<partition>/<ULID of t>. Keys of one partition sort by time.
func SegmentKey(topicID [16]byte, partition int32, t time.Time) string {
	return partitionObjectKey(SegmentPrefix, topicID, partition, t)
}

// ProducerStateKey returns a new key for a producer-state snapshot of one partition:
// producer-state/<topic-id hex>/<partition>/<ULID of t>.
func ProducerStateKey(topicID [16]byte, partition int32, t time.Time) string {
	return partitionObjectKey(ProducerStatePrefix, topicID, partition, t)
}

// TopicManifestKey returns a new key for a manifest of a topic:
// topics/<topic-id hex>/<ULID of t>. A topic's manifests sort by time.
func TopicManifestKey(topicID [16]byte, t time.Time) string {
	return ulidKey(fmt.Appendf(nil, "%s%x/", TopicManifestPrefix, topicID), t)
}

// GroupOffsetsKey returns a new key for a snapshot of a group's committed offsets:
// group-offsets/<escaped group>/<ULID of t>; escapedGroup is meta.EscapeGroup's form.
func GroupOffsetsKey(escapedGroup string, t time.Time) string {
	return ulidKey([]byte(GroupOffsetsPrefix+escapedGroup+"/"), t)
}

// LogStartsKey returns a new key for a broker's copy of its partitions' log starts:
// log-starts/<broker-id>/<ULID of t>.
func LogStartsKey(brokerID int32, t time.Time) string {
	return ulidKey(fmt.Appendf(nil, "%s%d/", LogStartsPrefix, brokerID), t)
}

// KeyTime returns the creation time of a key ending in a ULID (every key of this package).
func KeyTime(key string) (time.Time, error) {
	id := key[strings.LastIndexByte(key, '/')+1:]
	if len(id) != ulidLen || id[0] > '7' {
		return time.Time{}, fmt.Errorf("cannot parse key %q: no ulid at its end", key)
	}
	var ms uint64
	for i := range 10 { // the first 50 bits: 2 zero bits and the 48-bit time
		v := strings.IndexByte(crockford, id[i])
		if v < 0 {
			return time.Time{}, fmt.Errorf("cannot parse key %q: bad ulid character", key)
		}
		ms = ms<<5 | uint64(v)
	}
	return time.UnixMilli(int64(ms)), nil
}

func ulidKey(dst []byte, t time.Time) string {
	var r [10]byte
	rand.Read(r[:])
	return string(appendULID(dst, ulidMillis(t), r))
}

// FlushPrefixOf is the prefix of every flush object key of a broker id.
func FlushPrefixOf(brokerID int32) string {
	return FlushPrefix + strconv.Itoa(int(brokerID)) + "/"
}

func partitionObjectKey(prefix string, topicID [16]byte, partition int32, t time.Time) string {
	var r [10]byte
	rand.Read(r[:])
	dst := appendPartitionPrefix(nil, prefix, topicID, partition)
	return string(appendULID(dst, ulidMillis(t), r))
}

// SegmentPartitionPrefix returns the prefix of one partition's segment keys:
// segments/<topic-id hex>/<partition>/.
func SegmentPartitionPrefix(topicID [16]byte, partition int32) string {
	return string(appendPartitionPrefix(nil, SegmentPrefix, topicID, partition))
}

// appendPartitionPrefix appends <prefix><topic-id hex>/<partition>/ to dst.
func appendPartitionPrefix(dst []byte, prefix string, topicID [16]byte, partition int32) []byte {
	return fmt.Appendf(dst, "%s%x/%d/", prefix, topicID, partition)
}
