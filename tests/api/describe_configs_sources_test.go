package api

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// synonymsOf renders a config's synonyms as name=value(source) in order.
func synonymsOf(c kmsg.DescribeConfigsResponseResourceConfig) []string {
	var out []string
	for _, s := range c.ConfigSynonyms {
		out = append(out, fmt.Sprintf("%s=%s(%s)", s.Name, strOrNil(s.Value), s.Source))
	}
	return out
}

// TestDescribeConfigsSourcesAndSynonyms checks DescribeConfigs against Kafka 4.4's answers:
// Kafka 4.4's topic config names, a topic config's broker synonym after its override, the
// source of a default set by a broker flag (STATIC_BROKER_CONFIG, with Kafka's default as
// the next synonym), broker settings at their default as DEFAULT_CONFIG, documentation of
// every config when asked (v3+), and no configs for the cluster-wide default resource.
func TestDescribeConfigsSourcesAndSynonyms(t *testing.T) {
	b := startBroker(t, "--message-max-bytes", "2000000")
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	createTopic(t, c, topic, 1, map[string]string{"retention.bytes": "1048576"})

	t.Run("Kafka 4.4's topic configs", func(t *testing.T) {
		m := configMap(describeConfigs(t, c, 4, kmsg.ConfigResourceTypeTopic, topic, nil, false, false))
		for _, name := range []string{"compression.gzip.level", "compression.zstd.level", "remote.log.copy.disable", "max.decompressed.message.bytes"} {
			if _, ok := m[name]; !ok {
				t.Errorf("Kafka 4.4's topic config %s is not listed", name)
			}
		}
		for _, name := range []string{"message.format.version", "message.downconversion.enable", "message.timestamp.difference.max.ms"} {
			if _, ok := m[name]; ok {
				t.Errorf("%s, removed in Kafka 4.0, is listed", name)
			}
		}
	})

	for _, tc := range []struct {
		name   string
		value  string
		source kmsg.ConfigSource
		syns   []string
	}{
		// A topic override, then the broker setting it overrides.
		{"retention.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig, []string{
			"retention.bytes=\"1048576\"(DYNAMIC_TOPIC_CONFIG)", "log.retention.bytes=\"-1\"(DEFAULT_CONFIG)"}},
		// The default set by --message-max-bytes, then Kafka's.
		{"max.message.bytes", "2000000", kmsg.ConfigSourceStaticBrokerConfig, []string{
			"message.max.bytes=\"2000000\"(STATIC_BROKER_CONFIG)", "message.max.bytes=\"1048588\"(DEFAULT_CONFIG)"}},
		{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig, []string{"log.cleanup.policy=\"delete\"(DEFAULT_CONFIG)"}},
		// Kafka 4.4 lists no synonym for retention.ms (log.retention.ms has no default).
		{"retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for v := int16(1); v <= 4; v++ {
				cfg := configMap(describeConfigs(t, c, v, kmsg.ConfigResourceTypeTopic, topic, []string{tc.name}, true, false))[tc.name]
				if cfg.Value == nil || *cfg.Value != tc.value || cfg.Source != tc.source {
					t.Errorf("v%d %s = %s source %v, want %q %v", v, tc.name, strOrNil(cfg.Value), cfg.Source, tc.value, tc.source)
				}
				if got := synonymsOf(cfg); !slices.Equal(got, tc.syns) {
					t.Errorf("v%d %s synonyms %v, want %v", v, tc.name, got, tc.syns)
				}
			}
		})
	}

	t.Run("broker settings at their default are DEFAULT_CONFIG, set ones STATIC_BROKER_CONFIG", func(t *testing.T) {
		m := configMap(describeConfigs(t, c, 4, kmsg.ConfigResourceTypeBroker, "0", nil, true, false))
		for name, want := range map[string]kmsg.ConfigSource{
			"message.max.bytes":         kmsg.ConfigSourceStaticBrokerConfig,
			"num.partitions":            kmsg.ConfigSourceDefaultConfig,
			"auto.create.topics.enable": kmsg.ConfigSourceDefaultConfig,
			"node.id":                   kmsg.ConfigSourceStaticBrokerConfig,
			"advertised.listeners":      kmsg.ConfigSourceStaticBrokerConfig,
		} {
			cfg, ok := m[name]
			if !ok {
				t.Errorf("broker config %s is not listed", name)
				continue
			}
			if cfg.Source != want || !cfg.ReadOnly || len(cfg.ConfigSynonyms) == 0 || cfg.ConfigSynonyms[0].Source != want {
				t.Errorf("broker %s source %v read-only %t synonyms %v; want %v, read-only, itself first", name, cfg.Source, cfg.ReadOnly, synonymsOf(cfg), want)
			}
		}
	})

	t.Run("every config documented when asked", func(t *testing.T) {
		for _, res := range []struct {
			typ  kmsg.ConfigResourceType
			name string
		}{{kmsg.ConfigResourceTypeTopic, topic}, {kmsg.ConfigResourceTypeBroker, "0"}} {
			r := describeConfigs(t, c, 3, res.typ, res.name, nil, false, true)
			if len(r.Configs) == 0 {
				t.Fatalf("resource %v %q lists no configs", res.typ, res.name)
			}
			for _, cfg := range r.Configs {
				if cfg.Documentation == nil || *cfg.Documentation == "" || cfg.ConfigType == 0 {
					t.Errorf("%v %s: documentation %s type %v", res.typ, cfg.Name, strOrNil(cfg.Documentation), cfg.ConfigType)
				}
			}
		}
	})

	// Kafka lists only dynamically set cluster-wide defaults here; KafScale has none.
	t.Run("cluster-wide default resource lists nothing", func(t *testing.T) {
		r := describeConfigs(t, c, 4, kmsg.ConfigResourceTypeBroker, "", nil, true, true)
		wantCode(t, "DescribeConfigs of broker \"\"", r.ErrorCode, nil)
		if len(r.Configs) != 0 {
			t.Fatalf("broker \"\" lists %d configs, want none", len(r.Configs))
		}
	})
}
