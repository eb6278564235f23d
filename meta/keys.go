package meta

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Key layout under the prefix (default /kafscale):
//
//	topics/<name>                                  Topic
//	partitions/<topic-id hex>/<p>                  Checkpoint (absent = empty)
//	segments/<topic-id hex>/<p>/<last offset %020d>  merged segment (later)
//	objects/<broker-id>/<incarnation>/<seq %020d>  ObjectEntry
//	fences/<broker-id>                             empty value; its mod revision is the fence
//	assignments/<broker-id>                        Assignment
//	brokers/<broker-id>                            Broker, bound to the session lease
//	draining/<broker-id>                           empty value: the broker is being drained
//	load/<broker-id>                               BrokerLoad, bound to the session lease
//	controller/...                                 the controller election
//	groups/...                                     consumer groups
//	scram/<mechanism>/<user>                       ScramCredential (user names may hold "/")
//	acls/<type>/<pattern>/<op>/<perm>/<name>/<principal>/<host>  empty value (meta/acls.go)
//
// Seq and offsets are zero-padded to 20 digits so that etcd's lexical key order
// is numeric order: a range read from a seq or an offset needs no sorting.
// Topic ids are 32 lowercase hex characters.

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "/kafscale"

// Keys builds and parses the etcd keys under one prefix. The zero value is not
// usable; build it with NewKeys.
type Keys struct {
	root string // prefix with exactly one trailing "/"
}

// NewKeys returns the key builder for prefix (DefaultPrefix if empty). A
// trailing slash is ignored.
func NewKeys(prefix string) Keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Keys{root: strings.TrimRight(prefix, "/") + "/"}
}

// Root returns the prefix with its trailing slash; every key starts with it.
func (k Keys) Root() string { return k.root }

// ScramPrefix returns scram/, the prefix of every SCRAM credential key.
func (k Keys) ScramPrefix() string { return k.root + "scram/" }

// Scram returns scram/<mechanism>/<user>.
func (k Keys) Scram(mechanism, user string) string {
	return k.ScramPrefix() + mechanism + "/" + user
}

// ParseScram returns the mechanism and user of a scram/ key.
func (k Keys) ParseScram(key string) (mechanism, user string, err error) {
	rest, ok := strings.CutPrefix(key, k.ScramPrefix())
	if ok {
		mechanism, user, ok = strings.Cut(rest, "/")
	}
	if !ok || mechanism == "" || user == "" {
		return "", "", fmt.Errorf("cannot parse SCRAM credential key %q", key)
	}
	return mechanism, user, nil
}

// TopicsPrefix returns the prefix of all topic keys.
func (k Keys) TopicsPrefix() string { return k.root + "topics/" }

// Topic returns topics/<name>.
func (k Keys) Topic(name string) string { return k.TopicsPrefix() + name }

// ParseTopic returns the topic name of a topics/<name> key.
func (k Keys) ParseTopic(key string) (string, error) {
	name, ok := strings.CutPrefix(key, k.TopicsPrefix())
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("cannot parse topic key %q", key)
	}
	return name, nil
}

// TopicPartitionsPrefix returns partitions/<topic-id>/, the prefix of all the
// topic's checkpoints.
func (k Keys) TopicPartitionsPrefix(id [16]byte) string {
	return k.root + "partitions/" + hex.EncodeToString(id[:]) + "/"
}

// Partition returns partitions/<topic-id>/<p>.
func (k Keys) Partition(id [16]byte, p int32) string {
	return k.TopicPartitionsPrefix(id) + strconv.FormatInt(int64(p), 10)
}

// ParsePartition returns the topic id and partition of a partitions/ key.
func (k Keys) ParsePartition(key string) (PartitionKey, error) {
	parts, ok := k.split(key, "partitions/", 2)
	if !ok {
		return PartitionKey{}, fmt.Errorf("cannot parse partition key %q", key)
	}
	pk, err := parsePartitionKey(parts[0], parts[1])
	if err != nil {
		return PartitionKey{}, fmt.Errorf("cannot parse partition key %q: %w", key, err)
	}
	return pk, nil
}

// AllSegmentsPrefix returns segments/, the prefix of every partition's segment keys.
func (k Keys) AllSegmentsPrefix() string { return k.root + "segments/" }

// TopicSegmentsPrefix returns segments/<topic-id>/, the prefix of all the
// topic's segments.
func (k Keys) TopicSegmentsPrefix(id [16]byte) string {
	return k.AllSegmentsPrefix() + hex.EncodeToString(id[:]) + "/"
}

// SegmentsPrefix returns segments/<topic-id>/<p>/, the prefix of one
// partition's segments, in offset order.
func (k Keys) SegmentsPrefix(id [16]byte, p int32) string {
	return k.TopicSegmentsPrefix(id) + strconv.FormatInt(int64(p), 10) + "/"
}

// Segment returns segments/<topic-id>/<p>/<last offset>.
func (k Keys) Segment(id [16]byte, p int32, lastOffset int64) string {
	return k.SegmentsPrefix(id, p) + pad20(uint64(lastOffset))
}

// ParseSegment returns the partition and last offset of a segments/ key.
func (k Keys) ParseSegment(key string) (PartitionKey, int64, error) {
	parts, ok := k.split(key, "segments/", 3)
	if !ok {
		return PartitionKey{}, 0, fmt.Errorf("cannot parse segment key %q", key)
	}
	pk, err := parsePartitionKey(parts[0], parts[1])
	if err != nil {
		return PartitionKey{}, 0, fmt.Errorf("cannot parse segment key %q: %w", key, err)
	}
	last, err := parsePadded(parts[2])
	if err != nil || last > 1<<63-1 {
		return PartitionKey{}, 0, fmt.Errorf("cannot parse segment key %q: bad offset", key)
	}
	return pk, int64(last), nil
}

// BrokerObjectsPrefix returns objects/<broker-id>/, the prefix of the objects
// of every incarnation of the broker.
func (k Keys) BrokerObjectsPrefix(brokerID int32) string {
	return k.root + "objects/" + strconv.FormatInt(int64(brokerID), 10) + "/"
}

// ObjectsPrefix returns objects/<broker-id>/<incarnation>/, the prefix of one
// incarnation's objects, in seq order.
func (k Keys) ObjectsPrefix(brokerID int32, incarnation uint64) string {
	return k.BrokerObjectsPrefix(brokerID) + strconv.FormatUint(incarnation, 10) + "/"
}

// Object returns objects/<broker-id>/<incarnation>/<seq>.
func (k Keys) Object(brokerID int32, incarnation, seq uint64) string {
	return k.ObjectsPrefix(brokerID, incarnation) + pad20(seq)
}

// ParseObject returns the broker id, incarnation and seq of an objects/ key.
func (k Keys) ParseObject(key string) (brokerID int32, incarnation, seq uint64, err error) {
	parts, ok := k.split(key, "objects/", 3)
	if !ok {
		return 0, 0, 0, fmt.Errorf("cannot parse object key %q", key)
	}
	b, err1 := strconv.ParseInt(parts[0], 10, 32)
	inc, err2 := strconv.ParseUint(parts[1], 10, 64)
	seq, err3 := parsePadded(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, fmt.Errorf("cannot parse object key %q", key)
	}
	return int32(b), inc, seq, nil
}

// Fence returns fences/<broker-id>.
func (k Keys) Fence(brokerID int32) string { return k.brokerKey("fences/", brokerID) }

// AssignmentsPrefix returns the prefix of all assignment keys.
func (k Keys) AssignmentsPrefix() string { return k.root + "assignments/" }

// Assignment returns assignments/<broker-id>.
func (k Keys) Assignment(brokerID int32) string { return k.brokerKey("assignments/", brokerID) }

// ParseAssignment returns the broker id of an assignments/ key.
func (k Keys) ParseAssignment(key string) (int32, error) {
	return k.parseBrokerKey("assignments/", key)
}

// BrokersPrefix returns the prefix of all broker registration keys.
func (k Keys) BrokersPrefix() string { return k.root + "brokers/" }

// Broker returns brokers/<broker-id>.
func (k Keys) Broker(brokerID int32) string { return k.brokerKey("brokers/", brokerID) }

// ParseBroker returns the broker id of a brokers/ key.
func (k Keys) ParseBroker(key string) (int32, error) { return k.parseBrokerKey("brokers/", key) }

// GroupsPrefix returns groups/, reserved for consumer groups.
func (k Keys) GroupsPrefix() string { return k.root + "groups/" }

func (k Keys) brokerKey(kind string, brokerID int32) string {
	return k.root + kind + strconv.FormatInt(int64(brokerID), 10)
}

func (k Keys) parseBrokerKey(kind, key string) (int32, error) {
	parts, ok := k.split(key, kind, 1)
	if !ok {
		return 0, fmt.Errorf("cannot parse %skey %q", kind, key)
	}
	id, err := strconv.ParseInt(parts[0], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %skey %q: %w", kind, key, err)
	}
	return int32(id), nil
}

// split strips root+kind from key and splits the rest into exactly n non-empty
// parts.
func (k Keys) split(key, kind string, n int) ([]string, bool) {
	rest, ok := strings.CutPrefix(key, k.root+kind)
	if !ok {
		return nil, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != n {
		return nil, false
	}
	for _, p := range parts {
		if p == "" {
			return nil, false
		}
	}
	return parts, true
}

func parsePartitionKey(idHex, p string) (PartitionKey, error) {
	var pk PartitionKey
	if len(idHex) != 32 {
		return pk, fmt.Errorf("topic id %q is not 32 hex characters", idHex)
	}
	if _, err := hex.Decode(pk.TopicID[:], []byte(idHex)); err != nil {
		return pk, fmt.Errorf("topic id %q: %w", idHex, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil || n < 0 {
		return pk, fmt.Errorf("partition %q is not a partition number", p)
	}
	pk.Partition = int32(n)
	return pk, nil
}

func pad20(v uint64) string { return fmt.Sprintf("%020d", v) }

func parsePadded(s string) (uint64, error) {
	if len(s) != 20 {
		return 0, fmt.Errorf("%q is not 20 digits", s)
	}
	return strconv.ParseUint(s, 10, 64)
}

// PartitionKey identifies a partition by topic id.
type PartitionKey struct {
	TopicID   [16]byte
	Partition int32
}

// String returns <topic-id hex>/<p>.
func (pk PartitionKey) String() string {
	return hex.EncodeToString(pk.TopicID[:]) + "/" + strconv.FormatInt(int64(pk.Partition), 10)
}
