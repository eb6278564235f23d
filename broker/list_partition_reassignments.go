package broker

// ListPartitionReassignments: version 0. KafScale moves a partition by handing its
// leadership to another broker (the controller's balancing, docs/cluster.md), never by
// copying replicas, so no reassignment is ever in progress: the answer lists no topic, as a
// Kafka controller answers when none is (ReplicationControlManager.listPartitionReassignments
// lists only reassigning partitions and skips topics it does not know, without an error).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() {
	register(kmsg.ListPartitionReassignments, 0, 0, (*Broker).handleListPartitionReassignments)
}

func (b *Broker) handleListPartitionReassignments(c *call) {
	req := c.kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if !c.may(acl.Cluster, acl.ClusterName) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
	}
	c.respond(resp)
}
