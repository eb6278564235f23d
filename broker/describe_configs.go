package broker

// DescribeConfigs: versions 1-4. Topic resources list every topic config with its effective
// value and source (DYNAMIC_TOPIC_CONFIG for overrides, DEFAULT_CONFIG otherwise); broker
// resources (name "" or this node's id) list the broker settings KafScale has. Synonyms
// (v1+) and types and docs (v3+) are filled when asked for.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeConfigs, 1, 4, (*Broker).handleDescribeConfigs) }

func (b *Broker) handleDescribeConfigs(c *call) {
	req := c.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType = rr.ResourceType
		out.ResourceName = rr.ResourceName
		want := func(name string) bool {
			if len(rr.ConfigNames) == 0 { // null or empty: all, as in Kafka
				return true
			}
			for _, n := range rr.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		add := func(name, value string, source kmsg.ConfigSource, kind configKind, doc string) {
			if !want(name) {
				return
			}
			cfg := kmsg.NewDescribeConfigsResponseResourceConfig()
			cfg.Name = name
			v := value
			cfg.Value = &v
			cfg.Source = source
			cfg.IsDefault = source == kmsg.ConfigSourceDefaultConfig
			cfg.ReadOnly = rr.ResourceType == kmsg.ConfigResourceTypeBroker
			if req.IncludeSynonyms {
				syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				syn.Name = name
				syn.Value = &v
				syn.Source = source
				cfg.ConfigSynonyms = append(cfg.ConfigSynonyms, syn)
			}
			cfg.ConfigType = kmsg.ConfigType(kind)
			if req.IncludeDocumentation && doc != "" {
				d := doc
				cfg.Documentation = &d
			}
			out.Configs = append(out.Configs, cfg)
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if err := validTopicName(rr.ResourceName); err != nil {
				out.ErrorCode = kerr.InvalidTopicException.Code
				out.ErrorMessage = errMessage(err)
				break
			}
			t := b.topicByName(rr.ResourceName)
			if t == nil {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			for _, name := range sortedConfigNames() {
				def := topicConfigs[name]
				v, set := t.meta.Configs[name]
				src := kmsg.ConfigSourceDynamicTopicConfig
				if !set {
					v, src = def.def, kmsg.ConfigSourceDefaultConfig
					if name == "max.message.bytes" {
						v = strconv.Itoa(int(b.cfg.MessageMaxBytes))
					}
				}
				add(name, v, src, def.kind, def.doc)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(b.cfg.NodeID)) {
				out.ErrorCode = kerr.InvalidRequest.Code
				msg := "broker " + rr.ResourceName + " is not this broker"
				out.ErrorMessage = &msg
				break
			}
			for _, bc := range b.brokerConfigs() {
				add(bc.name, bc.value, kmsg.ConfigSourceStaticBrokerConfig, bc.kind, "")
			}
		default:
			out.ErrorCode = kerr.InvalidRequest.Code
			msg := "only topic and broker resources are supported"
			out.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, out)
	}
	c.respond(resp)
}

type brokerConfig struct {
	name, value string
	kind        configKind
}

func (b *Broker) brokerConfigs() []brokerConfig {
	return []brokerConfig{
		{"auto.create.topics.enable", strconv.FormatBool(b.cfg.AutoCreateTopics), kindBoolean},
		{"broker.id", strconv.Itoa(int(b.cfg.NodeID)), kindInt},
		{"default.replication.factor", "1", kindInt},
		{"log.retention.ms", topicConfigs["retention.ms"].def, kindLong},
		{"message.max.bytes", strconv.Itoa(int(b.cfg.MessageMaxBytes)), kindInt},
		{"min.insync.replicas", "1", kindInt},
		{"node.id", strconv.Itoa(int(b.cfg.NodeID)), kindInt},
		{"num.partitions", strconv.Itoa(int(b.cfg.DefaultPartitions)), kindInt},
	}
}
