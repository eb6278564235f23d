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
	doc  string
}

// topicConfigs are Kafka's topic-level configs with Kafka's defaults. KafScale accepts and
// stores them all so tools that set them keep working; the ones the broker acts on are
// max.message.bytes and the retention settings (retention is enforced by a later issue).
var topicConfigs = map[string]configDef{
	"cleanup.policy":                          {def: "delete", kind: kindList, enum: []string{"delete", "compact", "compact,delete", "delete,compact"}, doc: "Retention policy for old log segments."},
	"compression.type":                        {def: "producer", kind: kindString, enum: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}, doc: "Final compression type; KafScale stores batches as the producer compressed them."},
	"delete.retention.ms":                     {def: "86400000", kind: kindLong},
	"file.delete.delay.ms":                    {def: "60000", kind: kindLong},
	"flush.messages":                          {def: "9223372036854775807", kind: kindLong},
	"flush.ms":                                {def: "9223372036854775807", kind: kindLong},
	"follower.replication.throttled.replicas": {def: "", kind: kindList},
	"index.interval.bytes":                    {def: "4096", kind: kindInt},
	"leader.replication.throttled.replicas":   {def: "", kind: kindList},
	"local.retention.bytes":                   {def: "-2", kind: kindLong},
	"local.retention.ms":                      {def: "-2", kind: kindLong},
	"max.compaction.lag.ms":                   {def: "9223372036854775807", kind: kindLong},
	"max.message.bytes":                       {def: "1048588", kind: kindInt, doc: "Largest record batch size allowed."},
	"message.downconversion.enable":           {def: "true", kind: kindBoolean},
	"message.format.version":                  {def: "3.0-IV1", kind: kindString},
	"message.timestamp.after.max.ms":          {def: "9223372036854775807", kind: kindLong},
	"message.timestamp.before.max.ms":         {def: "9223372036854775807", kind: kindLong},
	"message.timestamp.difference.max.ms":     {def: "9223372036854775807", kind: kindLong},
	"message.timestamp.type":                  {def: "CreateTime", kind: kindString, enum: []string{"CreateTime"}, doc: "Only CreateTime is supported."},
	"min.cleanable.dirty.ratio":               {def: "0.5", kind: kindDouble},
	"min.compaction.lag.ms":                   {def: "0", kind: kindLong},
	"min.insync.replicas":                     {def: "1", kind: kindInt},
	"preallocate":                             {def: "false", kind: kindBoolean},
	"remote.storage.enable":                   {def: "false", kind: kindBoolean},
	"retention.bytes":                         {def: "-1", kind: kindLong, doc: "Bytes to keep per partition; -1 keeps all."},
	"retention.ms":                            {def: "604800000", kind: kindLong, doc: "Milliseconds to keep data; -1 keeps all."},
	"segment.bytes":                           {def: "1073741824", kind: kindInt},
	"segment.index.bytes":                     {def: "10485760", kind: kindInt},
	"segment.jitter.ms":                       {def: "0", kind: kindLong},
	"segment.ms":                              {def: "604800000", kind: kindLong},
	"unclean.leader.election.enable":          {def: "false", kind: kindBoolean},
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
