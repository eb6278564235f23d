package broker

// DescribeCluster: versions 0-2 (Kafka 4.4's range). Answered as a Kafka broker answers it
// (KafkaApis.handleDescribeCluster, AuthHelper.computeDescribeClusterResponse): every live
// broker with its advertised listener and rack, the cluster id, and the controller id. This
// listener serves brokers only (EndpointType 1, KIP-919): asking it for controllers is
// MISMATCHED_ENDPOINT_TYPE and an unknown type UNSUPPORTED_ENDPOINT_TYPE (INVALID_REQUEST at
// v0, which has no EndpointType field). The controller id is the broker whose controller
// (package ctrl) is elected, which is a live broker, unlike Kafka's random alive broker;
// -1 if it is not among the brokers listed, as Kafka does. With --authorizer it needs no
// ACL, as in Kafka (any client that got through the handshake may list the brokers, which
// Metadata tells it too); ClusterAuthorizedOperations, when asked for, holds the cluster
// operations the principal may perform if it may DESCRIBE the cluster, else 0, as Kafka's
// (every one without an authorizer); otherwise it is the schema's -2147483648. No broker is
// fenced in KafScale's sense (a broker whose session ended is no longer listed), so
// IsFenced (v2) is false and IncludeFencedBrokers changes nothing.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DescribeCluster, 0, 2, (*Broker).handleDescribeCluster) }

// Endpoint types of DescribeCluster (KIP-919).
const (
	endpointBrokers     = 1
	endpointControllers = 2
)

func (b *Broker) handleDescribeCluster(c *call) {
	req := c.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = endpointBrokers
	if err := checkEndpointType(req); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	brokers, controller := b.clusterBrokers()
	resp.ControllerID = -1
	ln := listenerOf(c)
	for _, br := range brokers {
		db := kmsg.NewDescribeClusterResponseBroker()
		host, port := endpointOf(br, ln)
		db.NodeID, db.Host, db.Port, db.Rack = br.Id, host, port, nilIfEmpty(br.Rack)
		resp.Brokers = append(resp.Brokers, db)
		if br.Id == controller {
			resp.ControllerID = controller
		}
	}
	resp.ClusterID = b.clusterID
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = 0
		if c.allows(acl.Describe, acl.Cluster, acl.ClusterName) {
			resp.ClusterAuthorizedOperations = c.authorizedOps(acl.Cluster, acl.ClusterName, clusterOperations)
		}
	}
	c.respond(resp)
}

// checkEndpointType refuses a request for an endpoint type other than brokers.
func checkEndpointType(req *kmsg.DescribeClusterRequest) error {
	switch req.EndpointType {
	case endpointBrokers:
		return nil
	case endpointControllers:
		code := kerr.MismatchedEndpointType
		if req.Version == 0 {
			code = kerr.InvalidRequest
		}
		return newKafkaError(code, "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
	default:
		code := kerr.UnsupportedEndpointType
		if req.Version == 0 {
			code = kerr.InvalidRequest
		}
		return newKafkaError(code, "Unsupported endpoint type %d", req.EndpointType)
	}
}
