package broker

// ConsumerGroupHeartbeat: versions 0-1 (KIP-848). The coordinator assigns partitions
// itself (assignors "uniform" and "range"); members join with epoch 0, leave with -1
// (-2 for a static member that will come back) and otherwise heartbeat with their epoch,
// reporting what they own. v1 (Kafka 4.0) adds the topic regex and has clients make
// their own member ids (KIP-1082); at v0 a joining member may leave its id empty and the
// coordinator names it. Null fields mean "unchanged", as on the wire.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.ConsumerGroupHeartbeat, 0, 1, (*Broker).handleConsumerGroupHeartbeat) }

func (b *Broker) handleConsumerGroupHeartbeat(c *call) {
	req := c.kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	if !c.may(acl.Group, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	for _, name := range req.SubscribedTopicNames {
		if !c.may(acl.Topic, name) {
			resp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			msg := "The member is not authorized to describe topic " + name
			resp.ErrorMessage = &msg
			c.respond(resp)
			return
		}
	}
	hr := group.ConsumerHeartbeatRequest{
		Group: req.Group, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		InstanceID: req.InstanceID, RackID: req.RackID, ClientID: c.hdr.ClientID, ClientHost: clientHost(c),
		RebalanceTimeout:     -1,
		SubscribedTopicNames: req.SubscribedTopicNames, SubscribedTopicRegex: req.SubscribedTopicRegex,
		ServerAssignor: req.ServerAssignor, RequireMemberID: req.Version >= 1,
	}
	if req.RebalanceTimeoutMillis >= 0 {
		hr.RebalanceTimeout = millis(req.RebalanceTimeoutMillis)
	}
	if req.Topics != nil {
		hr.Owned = make([]group.TopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			hr.Owned = append(hr.Owned, group.TopicPartitions{TopicID: t.TopicID, Partitions: t.Partitions})
		}
	}
	r := b.groups.ConsumerHeartbeat(hr)
	resp.ErrorCode = groupCode(r.Err)
	if r.ErrMessage != "" {
		resp.ErrorMessage = &r.ErrMessage
	}
	if r.Err == nil {
		resp.MemberID = &r.MemberID
		resp.MemberEpoch = r.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(r.HeartbeatInterval.Milliseconds())
		if r.HasAssignment {
			a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
			for _, t := range r.Assignment {
				a.Topics = append(a.Topics, kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{TopicID: t.TopicID, Partitions: t.Partitions})
			}
			resp.Assignment = &a
		}
	}
	c.respond(resp)
}
