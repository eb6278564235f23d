package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Types of the KIP-848 consumer group protocol (ConsumerGroupHeartbeat,
// ConsumerGroupDescribe), where the coordinator assigns partitions itself.

// TopicInfo describes a topic for server-side assignment.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// Topics is what the coordinator knows of topics; the broker implements it. Methods
// are called with group locks held and must not block.
type Topics interface {
	TopicByName(name string) (TopicInfo, bool)
	TopicByID(id [16]byte) (TopicInfo, bool)
	// TopicNames returns every topic name (regex subscriptions match against them).
	TopicNames() []string
}

// TopicPartitions is a set of partitions of one topic.
type TopicPartitions struct {
	TopicID    [16]byte
	Partitions []int32
}

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat request. A nil field means
// "unchanged since the last heartbeat", as on the wire.
type ConsumerHeartbeatRequest struct {
	Group       string
	MemberID    string
	MemberEpoch int32 // 0 joins, -1 leaves, -2 leaves as a static member (keeping its assignment)
	InstanceID  *string
	RackID      *string
	ClientID    string
	ClientHost  string
	// RebalanceTimeout bounds how long the member may take to revoke partitions; <0 is
	// unchanged.
	RebalanceTimeout     time.Duration
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	// Owned is what the member owns now (nil: unchanged, keepalive).
	Owned []TopicPartitions
	// RequireMemberID is set from v1 (KIP-1082): clients make their own member ids.
	RequireMemberID bool
}

// ConsumerHeartbeatResponse answers a ConsumerHeartbeatRequest.
type ConsumerHeartbeatResponse struct {
	Err               *kerr.Error
	ErrMessage        string
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// Assignment is the member's partitions, when HasAssignment (it changed, or the
	// request was a full one).
	HasAssignment bool
	Assignment    []TopicPartitions
}

// ConsumerMemberDescription is one member in ConsumerGroupDescribe.
type ConsumerMemberDescription struct {
	MemberID             string
	InstanceID           *string
	RackID               *string
	MemberEpoch          int32
	ClientID             string
	ClientHost           string
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	Assignment           []TopicPartitions
	TargetAssignment     []TopicPartitions
}

// ConsumerGroupDescription is one group in ConsumerGroupDescribe.
type ConsumerGroupDescription struct {
	Err             *kerr.Error
	State           string
	Epoch           int32
	AssignmentEpoch int32
	AssignorName    string
	Members         []ConsumerMemberDescription
}
