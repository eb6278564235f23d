package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeConfigs describes one resource at version and returns its answer.
func describeConfigs(t *testing.T, c *conn, version int16, typ kmsg.ConfigResourceType, name string, names []string, synonyms, docs bool) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = version
	req.IncludeSynonyms = synonyms
	req.IncludeDocumentation = docs
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, names
	req.Resources = append(req.Resources, rr)
	resp := c.do(req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("DescribeConfigs answers %d resources for one", len(resp.Resources))
	}
	out := resp.Resources[0]
	if out.ResourceType != typ || out.ResourceName != name {
		t.Fatalf("DescribeConfigs answers resource %d %q for %d %q", out.ResourceType, out.ResourceName, typ, name)
	}
	return out
}

func configMap(r kmsg.DescribeConfigsResponseResource) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	m := make(map[string]kmsg.DescribeConfigsResponseResourceConfig, len(r.Configs))
	for _, c := range r.Configs {
		m[c.Name] = c
	}
	return m
}

func strOrNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *s)
}

func TestDescribeConfigs(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	setup := dial(ctx, t, b.Addr)
	topic := topicName(t)
	createTopic(t, setup, topic, 1, map[string]string{"retention.ms": "3600000", "cleanup.policy": "compact"})

	for v := int16(1); v <= 4; v++ {
		t.Run(fmt.Sprintf("v%d topic overrides are DYNAMIC_TOPIC_CONFIG, the rest DEFAULT_CONFIG", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			r := describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, nil, false, false)
			wantCode(t, "DescribeConfigs of the topic", r.ErrorCode, nil)
			m := configMap(r)
			for name, want := range map[string]struct {
				value  string
				source kmsg.ConfigSource
			}{
				"retention.ms":      {"3600000", kmsg.ConfigSourceDynamicTopicConfig},
				"cleanup.policy":    {"compact", kmsg.ConfigSourceDynamicTopicConfig},
				"max.message.bytes": {"1048588", kmsg.ConfigSourceDefaultConfig},
				"segment.bytes":     {"1073741824", kmsg.ConfigSourceDefaultConfig},
				"retention.bytes":   {"-1", kmsg.ConfigSourceDefaultConfig},
			} {
				got, ok := m[name]
				if !ok {
					t.Fatalf("DescribeConfigs v%d lacks %s", v, name)
				}
				if got.Value == nil || *got.Value != want.value || got.Source != want.source || got.ReadOnly || got.IsSensitive {
					t.Errorf("DescribeConfigs v%d %s = %s source %v read-only %t; want %q source %v, writable", v, name, strOrNil(got.Value), got.Source, got.ReadOnly, want.value, want.source)
				}
			}
		})
	}

	t.Run("ConfigNames filters", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{1, 4} {
			r := describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, []string{"retention.ms", "max.message.bytes"}, false, false)
			wantCode(t, "DescribeConfigs", r.ErrorCode, nil)
			m := configMap(r)
			if len(m) != 2 || m["retention.ms"].Value == nil || m["max.message.bytes"].Value == nil {
				t.Fatalf("DescribeConfigs v%d with two names answers %d configs: %v", v, len(r.Configs), m)
			}
			r = describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, []string{"no.such.config"}, false, false)
			if r.ErrorCode != 0 || len(r.Configs) != 0 {
				t.Fatalf("DescribeConfigs v%d of an unknown config name answers %s with %d configs, want none", v, errName(r.ErrorCode), len(r.Configs))
			}
		}
	})

	// Kafka reads an empty (not null) ConfigNames list as "all configs"
	// (ConfigHelperUtils.buildConfigEntries: null or empty means all).
	t.Run("empty ConfigNames lists every config", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		all := describeConfigs(t, c, 4, kmsg.ConfigResourceTypeTopic, topic, nil, false, false)
		for _, v := range []int16{1, 4} {
			r := describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, []string{}, false, false)
			wantCode(t, "DescribeConfigs", r.ErrorCode, nil)
			if len(r.Configs) != len(all.Configs) {
				t.Fatalf("DescribeConfigs v%d with an empty name list answers %d configs, with null %d", v, len(r.Configs), len(all.Configs))
			}
		}
	})

	t.Run("broker resource by id and empty name", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{1, 4} {
			r := describeConfigs(t, c, v, kmsg.ConfigResourceTypeBroker, "0", nil, false, false)
			wantCode(t, fmt.Sprintf("DescribeConfigs v%d of broker 0", v), r.ErrorCode, nil)
			m := configMap(r)
			for name, want := range map[string]string{"message.max.bytes": "1048588", "num.partitions": "1", "auto.create.topics.enable": "true"} {
				got, ok := m[name]
				if !ok || got.Value == nil || *got.Value != want {
					t.Errorf("DescribeConfigs v%d of broker 0: %s = %s, want %q", v, name, strOrNil(got.Value), want)
				}
				if ok && got.Source != kmsg.ConfigSourceStaticBrokerConfig && got.Source != kmsg.ConfigSourceDefaultConfig {
					t.Errorf("DescribeConfigs v%d of broker 0: %s source %v, want STATIC_BROKER_CONFIG or DEFAULT_CONFIG", v, name, got.Source)
				}
			}
			// The empty name is the cluster-wide default resource.
			r = describeConfigs(t, c, v, kmsg.ConfigResourceTypeBroker, "", nil, false, false)
			wantCode(t, fmt.Sprintf("DescribeConfigs v%d of broker \"\"", v), r.ErrorCode, nil)
			// Another broker's id is Kafka's INVALID_REQUEST ("Unexpected broker id").
			r = describeConfigs(t, c, v, kmsg.ConfigResourceTypeBroker, "7", nil, false, false)
			wantCode(t, fmt.Sprintf("DescribeConfigs v%d of broker 7", v), r.ErrorCode, kerr.InvalidRequest)
		}
	})

	t.Run("unknown topic is UNKNOWN_TOPIC_OR_PARTITION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		r := describeConfigs(t, c, 4, kmsg.ConfigResourceTypeTopic, topicName(t), nil, false, false)
		wantCode(t, "DescribeConfigs of an absent topic", r.ErrorCode, kerr.UnknownTopicOrPartition)
	})

	// Kafka validates the name first (Topic.validate in ConfigHelper.describeConfigs).
	t.Run("invalid topic name is INVALID_TOPIC_EXCEPTION", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		r := describeConfigs(t, c, 4, kmsg.ConfigResourceTypeTopic, "a/b", nil, false, false)
		wantCode(t, "DescribeConfigs of topic \"a/b\"", r.ErrorCode, kerr.InvalidTopicException)
	})

	t.Run("synonyms only when asked", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		for _, v := range []int16{1, 2, 3, 4} {
			r := describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, []string{"retention.ms"}, false, false)
			if cfg := configMap(r)["retention.ms"]; len(cfg.ConfigSynonyms) != 0 {
				t.Fatalf("DescribeConfigs v%d without IncludeSynonyms answers synonyms %+v", v, cfg.ConfigSynonyms)
			}
			r = describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, []string{"retention.ms"}, true, false)
			cfg := configMap(r)["retention.ms"]
			if len(cfg.ConfigSynonyms) == 0 {
				t.Fatalf("DescribeConfigs v%d with IncludeSynonyms answers no synonyms for retention.ms", v)
			}
			// The first synonym is the one in effect: the topic override.
			s := cfg.ConfigSynonyms[0]
			if s.Name != "retention.ms" || s.Value == nil || *s.Value != "3600000" || s.Source != kmsg.ConfigSourceDynamicTopicConfig {
				t.Fatalf("DescribeConfigs v%d first synonym of retention.ms is %s=%s source %v, want the topic override", v, s.Name, strOrNil(s.Value), s.Source)
			}
		}
	})

	t.Run("types and documentation from v3", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		names := []string{"retention.ms", "cleanup.policy", "max.message.bytes", "preallocate", "compression.type"}
		wantTypes := map[string]kmsg.ConfigType{
			"retention.ms":      kmsg.ConfigTypeLong,
			"cleanup.policy":    kmsg.ConfigTypeList,
			"max.message.bytes": kmsg.ConfigTypeInt,
			"preallocate":       kmsg.ConfigTypeBoolean,
			"compression.type":  kmsg.ConfigTypeString,
		}
		for _, v := range []int16{3, 4} {
			m := configMap(describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, names, false, false))
			for name, typ := range wantTypes {
				if m[name].ConfigType != typ {
					t.Errorf("DescribeConfigs v%d %s type %v, want %v", v, name, m[name].ConfigType, typ)
				}
				if m[name].Documentation != nil {
					t.Errorf("DescribeConfigs v%d without IncludeDocumentation documents %s", v, name)
				}
			}
			m = configMap(describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, names, false, true))
			for _, name := range []string{"retention.ms", "max.message.bytes"} {
				if d := m[name].Documentation; d == nil || *d == "" {
					t.Errorf("DescribeConfigs v%d with IncludeDocumentation has no documentation for %s", v, name)
				}
			}
		}
	})
}
