package broker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta/metapb"
)

// configKind is a topic config's value type, as DescribeConfigs v3+ reports it.
type configKind int8

// Kafka's ConfigType values.
const (
	kindBoolean configKind = 1
	kindString  configKind = 2
	kindInt     configKind = 3
	kindShort   configKind = 4
	kindLong    configKind = 5
	kindDouble  configKind = 6
	kindList    configKind = 7
)

type configDef struct {
	def  string
	kind configKind
	enum []string // allowed values of a string config, when fixed
	// synonym is the broker config that sets this topic config's default (Kafka's
	// ServerTopicConfigSynonyms, as Kafka 4.4 lists it in DescribeConfigs synonyms), or ""
	// if Kafka lists none.
	synonym string
	doc     string
}

// topicConfigs are Kafka 4.4's topic-level configs with Kafka's defaults. KafScale accepts
// and stores them all so tools that set them keep working; the ones the broker acts on are
// max.message.bytes, cleanup.policy, retention.ms and retention.bytes (retention.go), and
// the compaction settings (compact.go).
// The docs say what each means in KafScale.
var topicConfigs = map[string]configDef{
	"cleanup.policy":                          {def: "delete", kind: kindList, enum: []string{"delete", "compact", "compact,delete", "delete,compact"}, synonym: "log.cleanup.policy", doc: "What happens to old data: delete drops it after retention.ms or retention.bytes; compact keeps the latest record of each key."},
	"compression.gzip.level":                  {def: "-1", kind: kindInt, synonym: "compression.gzip.level", doc: "Level for gzip when compression.type is gzip; KafScale stores batches as the producer compressed them."},
	"compression.lz4.level":                   {def: "9", kind: kindInt, synonym: "compression.lz4.level", doc: "Level for lz4 when compression.type is lz4; KafScale stores batches as the producer compressed them."},
	"compression.type":                        {def: "producer", kind: kindString, enum: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}, synonym: "compression.type", doc: "Final compression codec of the topic's batches; KafScale stores batches as the producer compressed them (producer)."},
	"compression.zstd.level":                  {def: "3", kind: kindInt, synonym: "compression.zstd.level", doc: "Level for zstd when compression.type is zstd; KafScale stores batches as the producer compressed them."},
	"delete.retention.ms":                     {def: "86400000", kind: kindLong, synonym: "log.cleaner.delete.retention.ms", doc: "How long tombstones (null-value records) of a compacted topic stay readable."},
	"errors.deadletterqueue.group.enable":     {def: "false", kind: kindBoolean, doc: "Whether share groups may use the topic as a dead-letter queue (share groups are not served)."},
	"file.delete.delay.ms":                    {def: "60000", kind: kindLong, synonym: "log.segment.delete.delay.ms", doc: "Delay before a deleted segment's data is removed."},
	"flush.messages":                          {def: "9223372036854775807", kind: kindLong, synonym: "log.flush.interval.messages", doc: "Records between forced flushes to disk; KafScale acknowledges a batch once it is in the object store."},
	"flush.ms":                                {def: "9223372036854775807", kind: kindLong, doc: "Milliseconds between forced flushes to disk; KafScale acknowledges a batch once it is in the object store."},
	"follower.replication.throttled.replicas": {def: "", kind: kindList, doc: "Replicas whose follower-side replication is throttled; KafScale does not replicate (one replica per partition)."},
	"index.interval.bytes":                    {def: "4096", kind: kindInt, synonym: "log.index.interval.bytes", doc: "Bytes between offset index entries."},
	"leader.replication.throttled.replicas":   {def: "", kind: kindList, doc: "Replicas whose leader-side replication is throttled; KafScale does not replicate (one replica per partition)."},
	"local.retention.bytes":                   {def: "-2", kind: kindLong, synonym: "log.local.retention.bytes", doc: "Bytes kept locally under tiered storage; -2 means retention.bytes. All KafScale data is in the object store."},
	"local.retention.ms":                      {def: "-2", kind: kindLong, synonym: "log.local.retention.ms", doc: "Milliseconds data is kept locally under tiered storage; -2 means retention.ms. All KafScale data is in the object store."},
	"max.compaction.lag.ms":                   {def: "9223372036854775807", kind: kindLong, synonym: "log.cleaner.max.compaction.lag.ms", doc: "Longest time a record stays ineligible for compaction."},
	"max.decompressed.message.bytes":          {def: "2147483639", kind: kindInt, synonym: "max.decompressed.message.bytes", doc: "Largest decompressed size of one record accepted."},
	"max.message.bytes":                       {def: "1048588", kind: kindInt, synonym: "message.max.bytes", doc: "Largest record batch accepted, in bytes, after compression."},
	"message.timestamp.after.max.ms":          {def: "3600000", kind: kindLong, synonym: "log.message.timestamp.after.max.ms", doc: "How far a record's timestamp may lie ahead of the broker's clock."},
	"message.timestamp.before.max.ms":         {def: "9223372036854775807", kind: kindLong, synonym: "log.message.timestamp.before.max.ms", doc: "How far a record's timestamp may lie behind the broker's clock."},
	"message.timestamp.type":                  {def: "CreateTime", kind: kindString, enum: []string{"CreateTime"}, synonym: "log.message.timestamp.type", doc: "Which timestamp records carry; only CreateTime (the producer's) is supported."},
	"min.cleanable.dirty.ratio":               {def: "0.5", kind: kindDouble, synonym: "log.cleaner.min.cleanable.ratio", doc: "Share of uncompacted data that makes a compacted topic eligible for compaction."},
	"min.compaction.lag.ms":                   {def: "0", kind: kindLong, synonym: "log.cleaner.min.compaction.lag.ms", doc: "Shortest time a record stays uncompacted."},
	"min.insync.replicas":                     {def: "1", kind: kindInt, synonym: "min.insync.replicas", doc: "Replicas that must acknowledge an acks=all write; a KafScale partition has one, and the object store keeps it durable."},
	"preallocate":                             {def: "false", kind: kindBoolean, synonym: "log.preallocate", doc: "Whether segment files are preallocated on disk; KafScale writes objects, not segment files."},
	"remote.copy.lag.bytes":                   {def: "-1", kind: kindLong, synonym: "log.remote.copy.lag.bytes", doc: "Tiered storage upload lag in bytes; all KafScale data is in the object store."},
	"remote.copy.lag.ms":                      {def: "0", kind: kindLong, synonym: "log.remote.copy.lag.ms", doc: "Tiered storage upload lag in milliseconds; all KafScale data is in the object store."},
	"remote.log.copy.disable":                 {def: "false", kind: kindBoolean, doc: "Whether tiered storage stops uploading the topic's data; all KafScale data is in the object store."},
	"remote.log.delete.on.disable":            {def: "false", kind: kindBoolean, doc: "Whether tiered data is deleted when tiered storage is disabled; all KafScale data is in the object store."},
	"remote.storage.enable":                   {def: "false", kind: kindBoolean, doc: "Whether the topic uses Kafka's tiered storage; all KafScale data is in the object store anyway."},
	"retention.bytes":                         {def: "-1", kind: kindLong, synonym: "log.retention.bytes", doc: "Bytes to keep per partition before old data is deleted; -1 keeps all."},
	"retention.ms":                            {def: "604800000", kind: kindLong, doc: "Milliseconds to keep data before it is deleted; -1 keeps all."},
	"segment.bytes":                           {def: "1073741824", kind: kindInt, synonym: "log.segment.bytes", doc: "Size of a log segment, the unit of retention."},
	"segment.index.bytes":                     {def: "10485760", kind: kindInt, synonym: "log.index.size.max.bytes", doc: "Largest offset index of a segment."},
	"segment.jitter.ms":                       {def: "0", kind: kindLong, doc: "Random time subtracted from segment.ms so that segments do not all roll at once."},
	"segment.ms":                              {def: "604800000", kind: kindLong, doc: "Time after which a segment is rolled even if not full."},
	"unclean.leader.election.enable":          {def: "false", kind: kindBoolean, synonym: "unclean.leader.election.enable", doc: "Whether a replica out of the ISR may become leader; a KafScale partition has one replica, its leader."},
}

// topicConfigEffects are the topic configs the broker acts on, with what it does (the
// docs' table). Every other one is accepted, so that tools and frameworks setting it keep
// working, but not stored: it changes nothing here, and DescribeConfigs reports its default
// (effectiveConfigs), never a value that looks as if it changed behaviour.
var topicConfigEffects = map[string]string{
	"cleanup.policy":            "enforced: `delete` applies retention.ms and retention.bytes, `compact` compacts (`compaction.md`); keyless records refused on compacted topics (INVALID_RECORD)",
	"delete.retention.ms":       "enforced, counted from the first compaction that kept the tombstone (`compaction.md`)",
	"max.compaction.lag.ms":     "enforced, measured from the newest record of the oldest uncompacted segment (`compaction.md`)",
	"min.cleanable.dirty.ratio": "enforced (`compaction.md`)",
	"min.compaction.lag.ms":     "enforced per merged segment: by its newest record's timestamp (`compaction.md`)",
	"max.message.bytes":         "enforced on Produce (MESSAGE_TOO_LARGE)",
	"retention.bytes":           "enforced (`object-lifecycle.md`, \"Retention\")",
	"retention.ms":              "enforced (`object-lifecycle.md`, \"Retention\")",
}

// effectiveConfigs returns the configs the broker acts on (topicConfigEffects) of a valid
// config map, and the names it dropped.
func effectiveConfigs(configs map[string]string) (map[string]string, []string) {
	var dropped []string
	out := make(map[string]string, len(configs))
	for name, v := range configs {
		if _, ok := topicConfigEffects[name]; ok {
			out[name] = v
		} else {
			dropped = append(dropped, name)
		}
	}
	sort.Strings(dropped)
	return out, dropped
}

// validateTopicConfigs rejects unknown names and values of the wrong type (INVALID_CONFIG).
func validateTopicConfigs(configs map[string]string) error {
	for name, v := range configs {
		def, ok := topicConfigs[name]
		if !ok {
			return newKafkaError(kerr.InvalidConfig, "unknown topic config %q", name)
		}
		if err := def.check(v); err != nil {
			return newKafkaError(kerr.InvalidConfig, "topic config %s=%q: %v", name, v, err)
		}
	}
	return nil
}

func (d configDef) check(v string) error {
	var err error
	switch d.kind {
	case kindBoolean:
		if v != "true" && v != "false" {
			err = fmt.Errorf("want true or false")
		}
	case kindInt:
		_, err = strconv.ParseInt(v, 10, 32)
	case kindShort:
		_, err = strconv.ParseInt(v, 10, 16)
	case kindLong:
		_, err = strconv.ParseInt(v, 10, 64)
	case kindDouble:
		_, err = strconv.ParseFloat(v, 64)
	}
	if err != nil {
		return err
	}
	if len(d.enum) > 0 {
		for _, e := range d.enum {
			if strings.EqualFold(v, e) {
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(d.enum, ", "))
	}
	return nil
}

// topicConfig returns a topic's value of a config: its own, or Kafka's default.
func topicConfig(t *metapb.Topic, name string) string {
	if v, ok := t.GetConfigs()[name]; ok {
		return v
	}
	return topicConfigs[name].def
}

// maxMessageBytes is the topic's max.message.bytes.
func (b *Broker) maxMessageBytes(t *metapb.Topic) int {
	if v, ok := t.Configs["max.message.bytes"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return int(b.cfg.MessageMaxBytes)
}

// sortedConfigNames lists the topic config names in order.
func sortedConfigNames() []string {
	names := make([]string, 0, len(topicConfigs))
	for n := range topicConfigs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
