package group

import (
	"fmt"
	"math"
	"time"
)

// Config holds the group coordinator's settings. Where Kafka has the setting, the
// default is Kafka's and the doc names Kafka's property.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long the first
	// rebalance of an empty group waits for more members to join, extended by the same
	// again (up to the rebalance timeout) while new members keep arriving.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout are group.min.session.timeout.ms and
	// group.max.session.timeout.ms: a JoinGroup outside them gets INVALID_SESSION_TIMEOUT.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxSize is group.max.size: a new member beyond it gets GROUP_MAX_SIZE_REACHED.
	MaxSize int
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes: a commit whose metadata is
	// longer gets OFFSET_METADATA_TOO_LARGE for that partition.
	OffsetMetadataMaxBytes int
	// MaxGroupIDBytes bounds group ids (Kafka has no bound; ids are etcd key parts
	// here): a longer id gets INVALID_GROUP_ID.
	MaxGroupIDBytes int
	// ConsumerSessionTimeout is group.consumer.session.timeout.ms: a KIP-848 member that
	// does not heartbeat for this long is removed.
	ConsumerSessionTimeout time.Duration
	// ConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms, the interval
	// KIP-848 members are told to heartbeat at.
	ConsumerHeartbeatInterval time.Duration
	// NewMemberJoinTimeout bounds how long a member that joined without a member id
	// waits in a rebalance before it is dropped (Kafka's fixed 5 minutes): such a
	// member cannot heartbeat, and a client that gave up would otherwise stay.
	NewMemberJoinTimeout time.Duration
	// OffsetsRetention is offsets.retention.minutes: a group without members loses its
	// committed offsets this long after it was last used (expiry.go).
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms: how often
	// expired offsets are looked for.
	OffsetsRetentionCheckInterval time.Duration
}

// Defaults, from Kafka's broker configuration.
const (
	DefaultInitialRebalanceDelay  = 3 * time.Second
	DefaultMinSessionTimeout      = 6 * time.Second
	DefaultMaxSessionTimeout      = 30 * time.Minute
	DefaultMaxSize                = math.MaxInt32
	DefaultOffsetMetadataMaxBytes = 4096
	DefaultMaxGroupIDBytes        = 1024
	DefaultNewMemberJoinTimeout   = 5 * time.Minute
	DefaultConsumerSession        = 45 * time.Second
	DefaultConsumerHeartbeat      = 5 * time.Second
	DefaultOffsetsRetention       = 7 * 24 * time.Hour
	DefaultOffsetsRetentionCheck  = 10 * time.Minute
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelay:         DefaultInitialRebalanceDelay,
		MinSessionTimeout:             DefaultMinSessionTimeout,
		MaxSessionTimeout:             DefaultMaxSessionTimeout,
		MaxSize:                       DefaultMaxSize,
		OffsetMetadataMaxBytes:        DefaultOffsetMetadataMaxBytes,
		MaxGroupIDBytes:               DefaultMaxGroupIDBytes,
		NewMemberJoinTimeout:          DefaultNewMemberJoinTimeout,
		ConsumerSessionTimeout:        DefaultConsumerSession,
		ConsumerHeartbeatInterval:     DefaultConsumerHeartbeat,
		OffsetsRetention:              DefaultOffsetsRetention,
		OffsetsRetentionCheckInterval: DefaultOffsetsRetentionCheck,
	}
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.InitialRebalanceDelay < 0:
		return fmt.Errorf("--group-initial-rebalance-delay must be >=0 (set to %s)", c.InitialRebalanceDelay)
	case c.MinSessionTimeout <= 0:
		return fmt.Errorf("--group-min-session-timeout must be >0 (set to %s)", c.MinSessionTimeout)
	case c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("--group-max-session-timeout must be >= --group-min-session-timeout %s (set to %s)", c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.MaxSize <= 0:
		return fmt.Errorf("--group-max-size must be >0 (set to %d)", c.MaxSize)
	case c.OffsetMetadataMaxBytes < 0 || c.OffsetMetadataMaxBytes > MaxNameBytes:
		return fmt.Errorf("--offset-metadata-max-bytes must be 0-%d, what OffsetFetch v0-v5 can carry (set to %d)", MaxNameBytes, c.OffsetMetadataMaxBytes)
	case c.MaxGroupIDBytes <= 0 || c.MaxGroupIDBytes > MaxNameBytes:
		return fmt.Errorf("--group-id-max-bytes must be 1-%d, what ListGroups v0-v2 can carry (set to %d)", MaxNameBytes, c.MaxGroupIDBytes)
	case c.ConsumerHeartbeatInterval <= 0:
		return fmt.Errorf("--group-consumer-heartbeat-interval must be >0 (set to %s)", c.ConsumerHeartbeatInterval)
	case c.ConsumerSessionTimeout <= c.ConsumerHeartbeatInterval:
		return fmt.Errorf("--group-consumer-session-timeout must be > --group-consumer-heartbeat-interval %s (set to %s)", c.ConsumerHeartbeatInterval, c.ConsumerSessionTimeout)
	case c.OffsetsRetention <= 0:
		return fmt.Errorf("--offsets-retention must be >0 (set to %s)", c.OffsetsRetention)
	case c.OffsetsRetentionCheckInterval <= 0:
		return fmt.Errorf("--offsets-retention-check-interval must be >0 (set to %s)", c.OffsetsRetentionCheckInterval)
	case c.NewMemberJoinTimeout <= 0:
		return fmt.Errorf("new member join timeout must be >0 (set to %s)", c.NewMemberJoinTimeout)
	}
	return nil
}
