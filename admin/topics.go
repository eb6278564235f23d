package admin

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrTopicNotFound is what DescribeTopics reports for a topic the cluster does not have.
var ErrTopicNotFound = errors.New("topic does not exist")

// brokerError is a Kafka error code with the broker's own message, which says more than
// the code's fixed description (which config, which limit). errors.Is sees the code.
type brokerError struct {
	code error
	msg  string
}

func (e *brokerError) Error() string {
	var ke *kerr.Error
	if errors.As(e.code, &ke) {
		if strings.HasPrefix(e.msg, ke.Message) {
			return e.msg // KafScale's messages start with the code
		}
		return ke.Message + ": " + e.msg
	}
	return e.code.Error() + ": " + e.msg
}

func (e *brokerError) Unwrap() error { return e.code }

// withMessage returns err (a Kafka error code, or nil) with the broker's message if it sent one.
func withMessage(err error, msg string) error {
	if err == nil || msg == "" {
		return err
	}
	return &brokerError{code: err, msg: msg}
}

// topicID renders an id as Kafka's tools do (URL-safe base64 without padding); "" when the
// cluster has no topic ids.
func topicID(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// TopicListing is one line of `kafscale topics list`.
type TopicListing struct {
	Topic             string `json:"topic"`
	ID                string `json:"id,omitempty"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal"`
}

// ListTopics lists the cluster's topics by name, internal ones (__consumer_offsets) only
// when internal is set.
func (c *Client) ListTopics(ctx context.Context, internal bool) ([]TopicListing, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	details, err := c.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list topics: %w", err)
	}
	out := []TopicListing{} // JSON [] when there are none
	for _, t := range details.Sorted() {
		if t.IsInternal && !internal {
			continue
		}
		l := TopicListing{Topic: t.Topic, ID: topicID(t.ID), Partitions: len(t.Partitions), Internal: t.IsInternal}
		for _, p := range t.Partitions {
			l.ReplicationFactor = max(l.ReplicationFactor, len(p.Replicas))
		}
		out = append(out, l)
	}
	return out, nil
}

// TopicPartition is one partition of a described topic.
type TopicPartition struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	// LogStart and LogEnd are the earliest offset and the high watermark; -1 if unknown
	// (Err then says why).
	LogStart int64  `json:"log_start_offset"`
	LogEnd   int64  `json:"log_end_offset"`
	Err      string `json:"error,omitempty"`
}

// TopicConfig is one config of a topic that is not at its default, and where its value
// comes from (DYNAMIC_TOPIC_CONFIG: set on the topic; STATIC_BROKER_CONFIG: the broker's
// flags or server.properties).
type TopicConfig struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// TopicDescription is what `kafscale topics describe` shows of one topic.
type TopicDescription struct {
	Topic      string           `json:"topic"`
	ID         string           `json:"id,omitempty"`
	Internal   bool             `json:"internal"`
	Partitions []TopicPartition `json:"partitions"`
	Configs    []TopicConfig    `json:"configs"`
	// ConfigsErr says why Configs could not be read (an old cluster without
	// DescribeConfigs, or no permission).
	ConfigsErr string `json:"configs_error,omitempty"`
}

// DescribeTopics describes the named topics (every non-internal topic when none are
// named): partitions with leader, leader epoch, log start and end offsets, and the
// configs not at their defaults. Named topics that do not exist are returned in missing.
func (c *Client) DescribeTopics(ctx context.Context, topics ...string) (descs []TopicDescription, missing []string, err error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var details kadm.TopicDetails
	if len(topics) == 0 {
		details, err = c.adm.ListTopics(ctx)
	} else {
		details, err = c.adm.ListTopicsWithInternal(ctx, topics...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read metadata of %v: %w", topics, err)
	}
	names := topics
	if len(names) == 0 {
		names = details.Names()
	}
	var found []string
	for _, name := range names {
		t, ok := details[name]
		if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, name)
			continue
		}
		if t.Err != nil {
			return nil, nil, fmt.Errorf("cannot describe topic %s: %w", name, t.Err)
		}
		found = append(found, name)
	}
	descs = []TopicDescription{} // JSON [] when there are none
	if len(found) == 0 {
		return descs, missing, nil
	}
	starts, ends, err := c.logBounds(ctx, found)
	if err != nil {
		return nil, nil, err
	}
	configs, cfgErr := c.adm.DescribeTopicConfigs(ctx, found...)
	if cfgErr != nil && isShardError(cfgErr) {
		cfgErr = nil // the topics that failed carry their own error
	}
	for _, name := range found {
		t := details[name]
		d := TopicDescription{Topic: name, ID: topicID(t.ID), Internal: t.IsInternal, Configs: []TopicConfig{}}
		for _, p := range t.Partitions.Sorted() {
			tp := TopicPartition{
				Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: sorted(p.Replicas), ISR: sorted(p.ISR), LogStart: -1, LogEnd: -1,
			}
			var errs []error
			if p.Err != nil {
				errs = append(errs, p.Err)
			}
			if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
				tp.LogStart = o.Offset
			} else if ok {
				errs = append(errs, fmt.Errorf("log start: %w", o.Err))
			}
			if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
				tp.LogEnd = o.Offset
			} else if ok {
				errs = append(errs, fmt.Errorf("log end: %w", o.Err))
			}
			if err := errors.Join(errs...); err != nil {
				tp.Err = err.Error()
			}
			d.Partitions = append(d.Partitions, tp)
		}
		if cfgErr != nil {
			d.ConfigsErr = cfgErr.Error()
		} else if rc, err := configs.On(name, nil); err != nil {
			d.ConfigsErr = "no answer to DescribeConfigs"
		} else if rc.Err != nil {
			d.ConfigsErr = withMessage(rc.Err, rc.ErrMessage).Error()
		} else {
			for _, cf := range rc.Configs {
				if cf.Source == kmsg.ConfigSourceDefaultConfig {
					continue
				}
				d.Configs = append(d.Configs, TopicConfig{Name: cf.Key, Value: cf.MaybeValue(), Source: cf.Source.String(), Sensitive: cf.Sensitive})
			}
			slices.SortFunc(d.Configs, func(a, b TopicConfig) int { return cmp.Compare(a.Name, b.Name) })
		}
		descs = append(descs, d)
	}
	return descs, missing, nil
}

// CreatedTopic is the cluster's answer to a created topic.
type CreatedTopic struct {
	Topic             string `json:"topic"`
	ID                string `json:"id,omitempty"`
	Partitions        int32  `json:"partitions"`
	ReplicationFactor int16  `json:"replication_factor"`
}

// CreateTopic creates one topic. partitions and replicationFactor may be -1 for the
// cluster's defaults. A refusal is the Kafka error (kerr), with the broker's message.
func (c *Client) CreateTopic(ctx context.Context, topic string, partitions int32, replicationFactor int16, configs map[string]*string) (CreatedTopic, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.adm.CreateTopics(ctx, partitions, replicationFactor, configs, topic)
	if err != nil {
		return CreatedTopic{}, fmt.Errorf("cannot send CreateTopics: %w", err)
	}
	r, ok := resp[topic]
	if !ok {
		return CreatedTopic{}, fmt.Errorf("the cluster did not answer for topic %s", topic)
	}
	if err := withMessage(r.Err, r.ErrMessage); err != nil {
		return CreatedTopic{}, err
	}
	return CreatedTopic{Topic: topic, ID: topicID(r.ID), Partitions: r.NumPartitions, ReplicationFactor: r.ReplicationFactor}, nil
}

// DeleteTopics deletes topics. The map holds each topic's own result (a Kafka error such
// as UNKNOWN_TOPIC_OR_PARTITION, or nil).
func (c *Client) DeleteTopics(ctx context.Context, topics ...string) (map[string]error, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("cannot send DeleteTopics: %w", err)
	}
	out := make(map[string]error, len(topics))
	for _, t := range topics {
		r, ok := resp[t]
		if !ok {
			out[t] = errors.New("no answer from the cluster")
			continue
		}
		out[t] = withMessage(r.Err, r.ErrMessage)
	}
	return out, nil
}

// AlterTopicConfig changes configs of one topic with IncrementalAlterConfigs: set holds
// the configs to set, del those to return to their defaults.
func (c *Client) AlterTopicConfig(ctx context.Context, topic string, set map[string]string, del []string) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var ops []kadm.AlterConfig
	for _, k := range slices.Sorted(maps.Keys(set)) {
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(set[k])})
	}
	for _, k := range del {
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	resp, err := c.adm.AlterTopicConfigs(ctx, ops, topic)
	if err != nil {
		return oneShardError("IncrementalAlterConfigs", err)
	}
	r, err := resp.On(topic, nil)
	if err != nil {
		return fmt.Errorf("the cluster did not answer for topic %s", topic)
	}
	return withMessage(r.Err, r.ErrMessage)
}

// DeleteRecords moves the log start of one partition to offset (-1: the high watermark)
// and returns the partition's new low watermark.
func (c *Client) DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) (int64, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset})
	resp, err := c.adm.DeleteRecords(ctx, os)
	if err != nil {
		return -1, oneShardError("DeleteRecords", err)
	}
	r, ok := resp.Lookup(topic, partition)
	if !ok {
		return -1, fmt.Errorf("the cluster did not answer for partition %d of %s", partition, topic)
	}
	if r.Err != nil {
		return -1, r.Err
	}
	return r.LowWatermark, nil
}

// oneShardError unwraps the failure of a request sent for one resource: a Kafka error
// (UNKNOWN_TOPIC_OR_PARTITION while mapping the partition to its leader) is returned as
// it is, anything else says which request could not be sent.
func oneShardError(request string, err error) error {
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) > 0 && se.Errs[0].Err != nil {
		err = se.Errs[0].Err
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return fmt.Errorf("cannot send %s: %w", request, err)
}
