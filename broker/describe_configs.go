package broker

// DescribeConfigs: versions 1-4, answered as Kafka 4.4 answers (ConfigHelper.describeConfigs).
//
// Topic resources list every topic config of Kafka 4.4 (configs.go) with its effective
// value, none read-only. The source is DYNAMIC_TOPIC_CONFIG for a topic override; otherwise
// that of the broker setting giving the default (the config's synonym, such as
// message.max.bytes for max.message.bytes): STATIC_BROKER_CONFIG when a flag set it to
// other than Kafka's default, else DEFAULT_CONFIG; DEFAULT_CONFIG when there is no synonym.
// With IncludeSynonyms, synonyms list every value in order of precedence: the override,
// the broker setting, and Kafka's default when a flag changed it.
//
// Broker resources: this broker's id lists its settings, read-only since none can change
// while it runs, each DEFAULT_CONFIG at its default and STATIC_BROKER_CONFIG when set (by a
// flag; Kafka's STATIC_BROKER_CONFIG is server.properties), with the default as a synonym
// then. The empty name is the cluster-wide dynamic default, which Kafka lists only when set
// dynamically: KafScale has none, so it lists nothing. Another broker's id is
// INVALID_REQUEST, as in Kafka (ask that broker). ConfigNames null or empty means all.
// ConfigType (v3+) is always filled, Documentation (v3+) when IncludeDocumentation asks.

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeConfigs, 1, 4, (*Broker).handleDescribeConfigs) }

// configValue is one value of a config from one source, a synonym in DescribeConfigs.
type configValue struct {
	name, value string
	source      kmsg.ConfigSource
}

func (b *Broker) handleDescribeConfigs(c *call) {
	req := c.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType = rr.ResourceType
		out.ResourceName = rr.ResourceName
		out.ErrorMessage = kmsg.StringPtr("") // Kafka answers an empty message, not null
		// add lists a config whose values (its synonyms) are in precedence order: the
		// first is in effect, or the default def when there are none.
		add := func(name string, kind configKind, doc string, readOnly bool, def configValue, values []configValue) {
			if len(rr.ConfigNames) > 0 && !slices.Contains(rr.ConfigNames, name) {
				return
			}
			cfg := kmsg.NewDescribeConfigsResponseResourceConfig()
			cfg.Name = name
			eff := def
			if len(values) > 0 {
				eff = values[0]
			}
			cfg.Value = &eff.value
			cfg.Source = eff.source
			cfg.IsDefault = cfg.Source == kmsg.ConfigSourceDefaultConfig
			cfg.ReadOnly = readOnly
			if req.IncludeSynonyms {
				for _, v := range values {
					syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					syn.Name, syn.Value, syn.Source = v.name, kmsg.StringPtr(v.value), v.source
					cfg.ConfigSynonyms = append(cfg.ConfigSynonyms, syn)
				}
			}
			cfg.ConfigType = kmsg.ConfigType(kind)
			if req.IncludeDocumentation {
				cfg.Documentation = kmsg.StringPtr(doc)
			}
			out.Configs = append(out.Configs, cfg)
		}
		err := c.configResourceError(rr.ResourceType, rr.ResourceName)
		switch {
		case err != nil:
		case rr.ResourceType == kmsg.ConfigResourceTypeTopic:
			err = b.describeTopicConfigs(rr.ResourceName, add)
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			err = b.describeBrokerConfigs(rr.ResourceName, add)
		default:
			err = newKafkaError(kerr.InvalidRequest, "only topic and broker resources are supported")
		}
		if err != nil {
			out.ErrorCode, out.ErrorMessage = errCodeOf(err), errText(err)
			out.Configs = nil
		}
		resp.Resources = append(resp.Resources, out)
	}
	c.respond(resp)
}

// describeTopicConfigs lists topic name's configs through add.
func (b *Broker) describeTopicConfigs(name string, add func(string, configKind, string, bool, configValue, []configValue)) error {
	if err := validTopicName(name); err != nil {
		return newKafkaError(kerr.InvalidTopicException, "%v", err)
	}
	t := b.topicByName(name)
	if t == nil {
		return newKafkaError(kerr.UnknownTopicOrPartition, "Topic %s does not exist.", name)
	}
	for _, cn := range sortedConfigNames() {
		def := topicConfigs[cn]
		var values []configValue
		// A config without effect is not stored (topicConfigEffects); one a topic created
		// before that rule still carries is not reported either: its default is what holds.
		_, acts := topicConfigEffects[cn]
		if v, set := t.meta.Configs[cn]; set && acts {
			values = append(values, configValue{cn, v, kmsg.ConfigSourceDynamicTopicConfig})
		}
		if def.synonym != "" {
			values = append(values, b.brokerSetting(def.synonym, def.def)...)
		}
		add(cn, def.kind, def.doc, false, configValue{cn, def.def, kmsg.ConfigSourceDefaultConfig}, values)
	}
	return nil
}

// describeBrokerConfigs lists broker name's configs through add.
func (b *Broker) describeBrokerConfigs(name string, add func(string, configKind, string, bool, configValue, []configValue)) error {
	switch name {
	case "":
		return nil // no dynamic cluster-wide defaults
	case strconv.Itoa(int(b.cfg.NodeID)):
	default:
		return newKafkaError(kerr.InvalidRequest, "Unexpected broker id, expected %d or empty string, but received %s", b.cfg.NodeID, name)
	}
	for _, bc := range b.brokerConfigs() {
		vs := bc.values()
		add(bc.name, bc.kind, bc.doc, true, vs[0], vs)
	}
	return nil
}

// brokerSetting returns the values of broker setting name in precedence order: this
// broker's, then the default when a flag changed it; fallback is the default of a setting
// KafScale does not have (Kafka's, for a topic config's synonym).
func (b *Broker) brokerSetting(name, fallback string) []configValue {
	for _, bc := range b.brokerConfigs() {
		if bc.name == name {
			return bc.values()
		}
	}
	return []configValue{{name, fallback, kmsg.ConfigSourceDefaultConfig}}
}

// brokerConfig is one broker setting DescribeConfigs lists.
type brokerConfig struct {
	name, value string
	// def is the default ("" if there is none: the setting is always given).
	def  string
	kind configKind
	doc  string
}

// values returns the setting's values in precedence order.
func (bc brokerConfig) values() []configValue {
	if bc.def != "" && bc.value == bc.def {
		return []configValue{{bc.name, bc.value, kmsg.ConfigSourceDefaultConfig}}
	}
	vs := []configValue{{bc.name, bc.value, kmsg.ConfigSourceStaticBrokerConfig}}
	if bc.def != "" {
		vs = append(vs, configValue{bc.name, bc.def, kmsg.ConfigSourceDefaultConfig})
	}
	return vs
}

// brokerConfigs lists the broker settings KafScale has, by their Kafka names, with
// Kafka's defaults.
func (b *Broker) brokerConfigs() []brokerConfig {
	id := strconv.Itoa(int(b.cfg.NodeID))
	return []brokerConfig{
		{"advertised.listeners", b.advertisedListeners(), "", kindList,
			"The listeners clients are told to connect to (--advertised-listeners, or --advertised-listener)."},
		{"auto.create.topics.enable", strconv.FormatBool(b.cfg.AutoCreateTopics), "true", kindBoolean,
			"Whether Metadata requests create missing topics (--auto-create-topics)."},
		{"broker.id", id, "-1", kindInt, "This broker's id (--broker-id)."},
		{"default.replication.factor", "1", "1", kindInt,
			"Replicas of an auto-created topic: always 1, the object store keeps the data durable."},
		{"log.dirs", b.logDir(), "", kindList,
			"Where partitions' data is kept: the object store (DescribeLogDirs lists it)."},
		{"log.retention.ms", topicConfigs["retention.ms"].def, topicConfigs["retention.ms"].def, kindLong,
			"Default retention.ms of topics."},
		{"message.max.bytes", strconv.Itoa(int(b.cfg.MessageMaxBytes)), topicConfigs["max.message.bytes"].def, kindInt,
			"Largest record batch accepted, the default max.message.bytes of topics (--message-max-bytes)."},
		{"min.insync.replicas", "1", "1", kindInt,
			"Replicas that must acknowledge an acks=all write: 1, the object store keeps the data durable."},
		{"node.id", id, "", kindInt, "This broker's id (--node-id)."},
		{"num.partitions", strconv.Itoa(int(b.cfg.DefaultPartitions)), "1", kindInt,
			"Partitions of an auto-created topic, and of CreateTopics asking for -1 (--num-partitions)."},
	}
}
