package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// incrementalAlter sends IncrementalAlterConfigs v1 for one resource and returns its
// error code.
func incrementalAlter(t *testing.T, c *conn, typ kmsg.ConfigResourceType, name string, validateOnly bool, configs ...kmsg.IncrementalAlterConfigsRequestResourceConfig) int16 {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version = 1
	req.ValidateOnly = validateOnly
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.Configs = typ, name, configs
	req.Resources = append(req.Resources, rr)
	resp := c.do(req).(*kmsg.IncrementalAlterConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("IncrementalAlterConfigs of one resource answers %d", len(resp.Resources))
	}
	return resp.Resources[0].ErrorCode
}

func alterOp(name string, op kmsg.IncrementalAlterConfigOp, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Op = name, op
	if op != kmsg.IncrementalAlterConfigOpDelete {
		rc.Value = kmsg.StringPtr(value)
	}
	return rc
}

// topicOverrides returns DescribeConfigs' value and source of the named topic configs.
func topicOverrides(t *testing.T, c *conn, topic string, names ...string) map[string]string {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = 4
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, names
	req.Resources = append(req.Resources, rr)
	resp := c.do(req).(*kmsg.DescribeConfigsResponse)
	out := make(map[string]string)
	for _, cfg := range resp.Resources[0].Configs {
		v := "null"
		if cfg.Value != nil {
			v = *cfg.Value
		}
		out[cfg.Name] = fmt.Sprintf("%s %s", v, cfg.Source)
	}
	return out
}

// TestIncrementalAlterConfigs (issue 13, acceptance 4): topic overrides are set, appended,
// subtracted and deleted, take effect in DescribeConfigs, validate-only changes nothing,
// and bad changes get Kafka's codes.
func TestIncrementalAlterConfigs(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	createTopic(t, c, topic, 1, nil)
	topicType := kmsg.ConfigResourceTypeTopic
	set, del := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete

	wantCode(t, "SET retention.ms", incrementalAlter(t, c, topicType, topic, false, alterOp("retention.ms", set, "3600000")), nil)
	wantCode(t, "APPEND compact to cleanup.policy", incrementalAlter(t, c, topicType, topic, false,
		alterOp("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "compact")), nil)
	wantCode(t, "validate-only SET max.message.bytes", incrementalAlter(t, c, topicType, topic, true, alterOp("max.message.bytes", set, "2048")), nil)
	got := topicOverrides(t, c, topic, "retention.ms", "cleanup.policy", "max.message.bytes")
	want := map[string]string{"retention.ms": "3600000 DYNAMIC_TOPIC_CONFIG", "cleanup.policy": "delete,compact DYNAMIC_TOPIC_CONFIG",
		"max.message.bytes": "1048588 DEFAULT_CONFIG"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("after the changes %s is %q, want %q", name, got[name], w)
		}
	}
	wantCode(t, "SUBTRACT compact, DELETE retention.ms", incrementalAlter(t, c, topicType, topic, false,
		alterOp("cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "compact"), alterOp("retention.ms", del, "")), nil)
	got = topicOverrides(t, c, topic, "retention.ms", "cleanup.policy")
	if got["retention.ms"] != "604800000 DEFAULT_CONFIG" || got["cleanup.policy"] != "delete DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("after SUBTRACT and DELETE: %v", got)
	}

	for _, tc := range []struct {
		what    string
		typ     kmsg.ConfigResourceType
		name    string
		configs []kmsg.IncrementalAlterConfigsRequestResourceConfig
		want    *kerr.Error
	}{
		{"an unknown config", topicType, topic, []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp("no.such", set, "1")}, kerr.InvalidConfig},
		{"a bad value", topicType, topic, []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp("retention.ms", set, "soon")}, kerr.InvalidConfig},
		{"APPEND to a non-list", topicType, topic, []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp("retention.ms", kmsg.IncrementalAlterConfigOpAppend, "1")}, kerr.InvalidConfig},
		{"a name twice", topicType, topic, []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp("retention.ms", set, "1"), alterOp("retention.ms", set, "2")}, kerr.InvalidRequest},
		{"an unknown topic", topicType, topic + "-none", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp("retention.ms", set, "1")}, kerr.UnknownTopicOrPartition},
		{"a broker config", kmsg.ConfigResourceTypeBroker, "0", []kmsg.IncrementalAlterConfigsRequestResourceConfig{alterOp("num.partitions", set, "3")}, kerr.InvalidRequest},
	} {
		wantCode(t, "IncrementalAlterConfigs with "+tc.what, incrementalAlter(t, c, tc.typ, tc.name, false, tc.configs...), tc.want)
	}
	if got := topicOverrides(t, c, topic, "retention.ms"); got["retention.ms"] != "604800000 DEFAULT_CONFIG" {
		t.Errorf("a refused change changed retention.ms: %v", got)
	}

	// AlterConfigs replaces every override.
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Version = 2
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = topicType, topic
	rc := kmsg.NewAlterConfigsRequestResourceConfig()
	rc.Name, rc.Value = "retention.bytes", kmsg.StringPtr("1000000")
	rr.Configs = append(rr.Configs, rc)
	req.Resources = append(req.Resources, rr)
	resp := c.do(req).(*kmsg.AlterConfigsResponse)
	wantCode(t, "AlterConfigs", resp.Resources[0].ErrorCode, nil)
	got = topicOverrides(t, c, topic, "retention.bytes", "cleanup.policy")
	if got["retention.bytes"] != "1000000 DYNAMIC_TOPIC_CONFIG" || got["cleanup.policy"] != "delete DEFAULT_CONFIG" {
		t.Errorf("after AlterConfigs: %v, want retention.bytes set and cleanup.policy back to its default", got)
	}
}

// TestConfigsWithoutEffectAreNotStored (issue 13, acceptance 4): a topic config KafScale
// accepts but does not act on (docs/topic-configs.md) is not stored, at creation or by
// IncrementalAlterConfigs and AlterConfigs: DescribeConfigs reports its default, never a
// value that looks as if it changed behaviour; the ones it acts on are stored alongside.
func TestConfigsWithoutEffectAreNotStored(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	topic := topicName(t)
	createTopic(t, c, topic, 1, map[string]string{"min.insync.replicas": "2", "segment.bytes": "1048576", "retention.ms": "3600000"})
	want := map[string]string{"min.insync.replicas": "1 DEFAULT_CONFIG", "segment.bytes": "1073741824 DEFAULT_CONFIG",
		"retention.ms": "3600000 DYNAMIC_TOPIC_CONFIG", "unclean.leader.election.enable": "false DEFAULT_CONFIG"}
	check := func(when string) {
		t.Helper()
		got := topicOverrides(t, c, topic, "min.insync.replicas", "segment.bytes", "retention.ms", "unclean.leader.election.enable")
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %s is %q, want %q", when, name, got[name], w)
			}
		}
	}
	check("after CreateTopics")
	wantCode(t, "SET unclean.leader.election.enable", incrementalAlter(t, c, kmsg.ConfigResourceTypeTopic, topic, false,
		alterOp("unclean.leader.election.enable", kmsg.IncrementalAlterConfigOpSet, "true")), nil)
	check("after IncrementalAlterConfigs")
}
