package broker

// ConsumerGroupDescribe: versions 0-1 (KIP-848). Describes KIP-848 consumer groups:
// state (Empty, Assigning, Reconciling, Stable), group and assignment epochs, assignor,
// and each member's epoch, subscription, assignment and target assignment. A classic
// group or a group that does not exist gets GROUP_ID_NOT_FOUND, as in Kafka. v1 adds the
// member type (1: a member of the consumer protocol).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/group"
)

func init() { register(kmsg.ConsumerGroupDescribe, 0, 1, (*Broker).handleConsumerGroupDescribe) }

func (b *Broker) handleConsumerGroupDescribe(c *call) {
	req := c.kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		if !c.may(acl.Group, name) {
			rg.Group, rg.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		d := b.groups.DescribeConsumerGroup(name)
		rg.Group, rg.ErrorCode, rg.State = name, groupCode(d.Err), d.State
		rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = d.Epoch, d.AssignmentEpoch, d.AssignorName
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = c.authorizedOps(acl.Group, name, groupOperations)
		}
		for _, m := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.RackID, rm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			rm.ClientID, rm.ClientHost = m.ClientID, m.ClientHost
			rm.SubscribedTopics, rm.SubscribedTopicRegex = m.SubscribedTopicNames, m.SubscribedTopicRegex
			rm.Assignment, rm.TargetAssignment = b.wireAssignment(m.Assignment), b.wireAssignment(m.TargetAssignment)
			rm.MemberType = 1
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	c.respond(resp)
}

// wireAssignment names an assignment's topics for ConsumerGroupDescribe.
func (b *Broker) wireAssignment(tps []group.TopicPartitions) kmsg.Assignment {
	var a kmsg.Assignment
	for _, t := range tps {
		at := kmsg.AssignmentTopicPartition{TopicID: t.TopicID, Partitions: t.Partitions}
		if ti := b.topicByID(t.TopicID); ti != nil {
			at.Topic = ti.meta.Name
		}
		a.TopicPartitions = append(a.TopicPartitions, at)
	}
	return a
}
