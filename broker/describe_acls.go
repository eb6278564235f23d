package broker

// DescribeAcls: versions 1-3 (Kafka 4.4's range). With the authorizer on (--authorizer) it
// answers the stored bindings the filter selects (acl.Filter: ANY and MATCH as Kafka),
// grouped by resource pattern, read from etcd so that a change made through any broker is
// seen at once; it needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED otherwise).
// Without an authorizer it answers as Kafka does (AclApis.handleDescribeAcls with
// authorizer.class.name unset): SECURITY_DISABLED with no resources. As in Kafka, a filter
// holding an UNKNOWN (0) resource type, pattern type, operation or permission type fails
// the request's parsing (DescribeAclsRequest.normalizeAndValidate), which closes the
// connection without an answer.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DescribeACLs, 1, 3, (*Broker).handleDescribeACLs) }

func (b *Broker) handleDescribeACLs(c *call) {
	req := c.kreq.(*kmsg.DescribeACLsRequest)
	f := acl.Filter{ResourceType: req.ResourceType, PatternType: req.ResourcePatternType, Name: req.ResourceName,
		Principal: req.Principal, Host: req.Host, Operation: req.Operation, Permission: req.PermissionType}
	if err := f.Validate(); err != nil {
		b.closeBad(c.req, c.hdr, fmt.Errorf("DescribeAcls filter: %w (resource type %d, pattern type %d, operation %d, permission type %d)",
			err, req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType))
		return
	}
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if err := b.aclAPIError(c); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	ctx, cancel := b.requestContext(aclRequestTimeout)
	defer cancel()
	all, _, err := b.meta.ListACLs(ctx)
	if err != nil {
		err = newKafkaError(kerr.UnknownServerError, "cannot read the ACLs: %v", err)
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	type pattern struct {
		rt   kmsg.ACLResourceType
		pt   kmsg.ACLResourcePatternType
		name string
	}
	byPattern := map[pattern]int{}
	for _, bd := range all {
		if !f.Matches(bd) {
			continue
		}
		p := pattern{bd.ResourceType, bd.PatternType, bd.Name}
		i, ok := byPattern[p]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourcePatternType, r.ResourceName = p.rt, p.pt, p.name
			resp.Resources = append(resp.Resources, r)
			i = len(resp.Resources) - 1
			byPattern[p] = i
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = bd.Principal, bd.Host, bd.Operation, bd.Permission
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, a)
	}
	c.respond(resp)
}
