package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/meta"
)

// The request and response types below carry what every version of a Kafka group API
// can say; the broker's handlers translate the wire versions to and from them. A nil
// *kerr.Error means success.

// Protocol is one protocol a member supports (an assignor, for consumers), with its
// opaque metadata.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group      string
	MemberID   string  // "" for a member joining for the first time
	InstanceID *string // group.instance.id of a static member (KIP-345), JoinGroup v5+
	ClientID   string
	ClientHost string
	// SessionTimeout and RebalanceTimeout are the member's (RebalanceTimeout equals
	// SessionTimeout for JoinGroup v0).
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID is set from JoinGroup v4 (KIP-394): a new dynamic member
	// first gets MEMBER_ID_REQUIRED with its member id and joins again with it.
	RequireKnownMemberID bool
	Reason               string
}

// JoinMember is one member's metadata as the leader sees it in its JoinGroup answer.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResponse answers a JoinRequest.
type JoinResponse struct {
	Err          *kerr.Error
	Generation   int32 // -1 with Err
	ProtocolType string
	Protocol     string
	LeaderID     string
	MemberID     string
	// Members is the group's members with their metadata for Protocol; only the
	// leader gets it.
	Members []JoinMember
	// SkipAssignment tells a static leader that rejoined a stable group not to
	// assign again (KIP-814, JoinGroup v9).
	SkipAssignment bool
}

// Assignment is the leader's assignment for one member.
type Assignment struct {
	MemberID   string
	Assignment []byte
}

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
	// ProtocolType and Protocol are checked when given (SyncGroup v5+).
	ProtocolType *string
	Protocol     *string
	Assignments  []Assignment // the leader's; empty from followers
}

// SyncResponse answers a SyncRequest.
type SyncResponse struct {
	Err          *kerr.Error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat request.
type HeartbeatRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
}

// LeaveMember is one member leaving (LeaveGroup v3+ leaves several at once).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

// LeaveResponse answers a LeaveGroup request: Err for the whole request, else
// Members[i] for the request's i-th member.
type LeaveResponse struct {
	Err     *kerr.Error
	Members []*kerr.Error
}

// CommitRequest is an OffsetCommit request whose partitions the broker has resolved
// to topic ids (unknown topics and partitions are answered before it gets here).
type CommitRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32 // -1: a commit from a client that manages its own partitions; the member epoch in a KIP-848 group
	Offsets    []meta.GroupOffset
	Version    int16 // OffsetCommit version: KIP-848 members must use v9+
}

// TopicPartition names a partition by both topic name and id.
type TopicPartition struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
}

// GroupListing is one row of ListGroups.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic"
}

// MemberDescription is one member in DescribeGroups.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte // for the group's protocol; only while the group is Stable
	Assignment []byte // only while the group is Stable
}

// GroupDescription is one group in DescribeGroups.
type GroupDescription struct {
	Err          *kerr.Error
	State        string // "Dead" for a group that does not exist
	ProtocolType string
	Protocol     string // only while the group is Stable
	Members      []MemberDescription
}
