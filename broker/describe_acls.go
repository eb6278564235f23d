package broker

// DescribeAcls: versions 1-3 (Kafka 4.4's range). KafScale has no authorizer, so it answers
// as a Kafka broker without one (AclApis.handleDescribeAcls with authorizer.class.name
// unset): SECURITY_DISABLED with no resources, whatever the filter. As in Kafka, a filter
// holding an UNKNOWN (0) resource type, pattern type, operation or permission type fails
// the request's parsing (DescribeAclsRequest.normalizeAndValidate), which closes the
// connection without an answer.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeACLs, 1, 3, (*Broker).handleDescribeACLs) }

func (b *Broker) handleDescribeACLs(c *call) {
	req := c.kreq.(*kmsg.DescribeACLsRequest)
	if req.ResourceType == 0 || req.ResourcePatternType == 0 || req.Operation == 0 || req.PermissionType == 0 {
		b.closeBad(c.req, c.hdr, fmt.Errorf("DescribeAcls filter holds an UNKNOWN element (resource type %d, pattern type %d, operation %d, permission type %d)",
			req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType))
		return
	}
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	err := newKafkaError(kerr.SecurityDisabled, "No Authorizer is configured on the broker")
	resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
	c.respond(resp)
}
