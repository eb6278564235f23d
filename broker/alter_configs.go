package broker

// IncrementalAlterConfigs (44, v0-1) and AlterConfigs (33, v0-2) change a topic's config
// overrides, as Kafka's do for topics: SET, DELETE (back to the default), APPEND and
// SUBTRACT (list configs only) for the first; the whole set of overrides replaced for the
// second. Names and values are checked as CreateTopics checks them (INVALID_CONFIG); a name
// given twice is INVALID_REQUEST; an unknown topic is UNKNOWN_TOPIC_OR_PARTITION;
// validateOnly changes nothing. The change is one compare-and-put of the topic's key in
// etcd; every broker's topic watch picks it up, so it takes effect without a restart
// (retention at the next check, max.message.bytes at the next Produce). Broker configs
// are command line flags, read-only as DescribeConfigs says: changing them is refused with
// INVALID_REQUEST, as Kafka refuses a read-only broker config.

import (
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(kmsg.IncrementalAlterConfigs, 0, 1, (*Broker).handleIncrementalAlterConfigs)
	register(kmsg.AlterConfigs, 0, 2, (*Broker).handleAlterConfigs)
}

// configChange is one requested change of a topic config.
type configChange struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

func (b *Broker) handleIncrementalAlterConfigs(c *call) {
	req := c.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		changes := make([]configChange, len(rr.Configs))
		for i, rc := range rr.Configs {
			changes[i] = configChange{name: rc.Name, op: rc.Op, value: rc.Value}
		}
		err := c.configResourceError(rr.ResourceType, rr.ResourceName)
		if err == nil {
			err = b.alterConfigs(c, rr.ResourceType, rr.ResourceName, req.ValidateOnly, false, changes)
		}
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		out.ErrorCode, out.ErrorMessage = errCodeOf(err), errText(err)
		resp.Resources = append(resp.Resources, out)
	}
	c.respond(resp)
}

func (b *Broker) handleAlterConfigs(c *call) {
	req := c.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		changes := make([]configChange, len(rr.Configs))
		for i, rc := range rr.Configs {
			changes[i] = configChange{name: rc.Name, op: kmsg.IncrementalAlterConfigOpSet, value: rc.Value}
		}
		err := c.configResourceError(rr.ResourceType, rr.ResourceName)
		if err == nil {
			err = b.alterConfigs(c, rr.ResourceType, rr.ResourceName, req.ValidateOnly, true, changes)
		}
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		out.ErrorCode, out.ErrorMessage = errCodeOf(err), errText(err)
		resp.Resources = append(resp.Resources, out)
	}
	c.respond(resp)
}

// alterConfigs applies changes to one resource: a topic's overrides (replacing all of them
// when replace is set, as AlterConfigs does).
func (b *Broker) alterConfigs(c *call, typ kmsg.ConfigResourceType, name string, validateOnly, replace bool, changes []configChange) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		names := make([]string, len(changes))
		for i, ch := range changes {
			names[i] = ch.name
		}
		return newKafkaError(kerr.InvalidRequest, "Cannot update these configs dynamically: %s (KafScale's broker settings are command line flags)", strings.Join(names, ", "))
	default:
		return newKafkaError(kerr.InvalidRequest, "altering configs of resource type %s is not supported", typ)
	}
	seen := make(map[string]bool, len(changes))
	for _, ch := range changes {
		if seen[ch.name] {
			return newKafkaError(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		seen[ch.name] = true
	}
	apply := func(current map[string]string) (map[string]string, error) {
		next := current
		if replace {
			next = make(map[string]string, len(changes))
		}
		for _, ch := range changes {
			def, ok := topicConfigs[ch.name]
			if !ok {
				return nil, newKafkaError(kerr.InvalidConfig, "Unknown topic config name: %s", ch.name)
			}
			switch ch.op {
			case kmsg.IncrementalAlterConfigOpSet:
				if ch.value == nil {
					return nil, newKafkaError(kerr.InvalidRequest, "Null value not supported for: %s", ch.name)
				}
				next[ch.name] = *ch.value
			case kmsg.IncrementalAlterConfigOpDelete:
				delete(next, ch.name)
			case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				if def.kind != kindList {
					return nil, newKafkaError(kerr.InvalidConfig, "Config value append is not allowed for config key: %s", ch.name)
				}
				v := def.def
				if cur, ok := next[ch.name]; ok {
					v = cur
				}
				next[ch.name] = editList(v, ch.value, ch.op == kmsg.IncrementalAlterConfigOpAppend)
			default:
				return nil, newKafkaError(kerr.InvalidRequest, "unknown operation %d for config %s", ch.op, ch.name)
			}
		}
		if err := validateTopicConfigs(next); err != nil {
			return nil, err
		}
		// Configs without effect here are accepted but not stored (topicConfigEffects).
		next, _ = effectiveConfigs(next)
		return next, nil
	}
	ctx, cancel := b.requestContext(30 * time.Second)
	defer cancel()
	if validateOnly {
		t, err := b.meta.GetTopic(ctx, name)
		if err != nil {
			return err
		}
		_, err = apply(t.GetConfigs())
		return err
	}
	t, err := b.meta.AlterTopicConfigs(ctx, name, apply)
	if err != nil {
		return err
	}
	b.putManifest(ctx, t)
	b.upsertTopic(t)
	c.adminAction("topic configs changed", "topic", name, "configs", t.Configs)
	return nil
}

// editList appends the comma-separated values of value to list, or removes them from it.
func editList(list string, value *string, add bool) string {
	var items []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	if value != nil {
		for _, v := range strings.Split(*value, ",") {
			v = strings.TrimSpace(v)
			switch {
			case v == "":
			case add && !slices.Contains(items, v):
				items = append(items, v)
			case !add:
				items = slices.DeleteFunc(items, func(s string) bool { return s == v })
			}
		}
	}
	return strings.Join(items, ",")
}
