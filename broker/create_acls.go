package broker

// CreateAcls: versions 1-3 (Kafka 4.4's range). Each creation is checked as Kafka's
// AclControlManager.validateNewAcl does (a concrete resource type, LITERAL or PREFIXED, a
// concrete operation and permission, a principal of the form Type:name, the cluster named
// kafka-cluster; INVALID_REQUEST otherwise); the valid ones are stored in etcd together
// (meta/acls.go: one transaction, so no broker applies half of a request), where every
// broker's watch picks them up within a second. Creating a binding that exists succeeds and
// changes nothing. Needs ALTER on the cluster; without an authorizer every creation gets
// SECURITY_DISABLED, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.CreateACLs, 1, 3, (*Broker).handleCreateACLs) }

func (b *Broker) handleCreateACLs(c *call) {
	req := c.kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	denied := b.aclAPIError(c)
	errs := make([]error, len(req.Creations))
	var valid []acl.Binding
	var at []int // where each of valid is answered
	for i, cr := range req.Creations {
		bd := acl.Binding{ResourceType: cr.ResourceType, PatternType: cr.ResourcePatternType, Name: cr.ResourceName,
			Principal: cr.Principal, Host: cr.Host, Operation: cr.Operation, Permission: cr.PermissionType}
		switch verr := bd.Validate(); {
		case denied != nil:
			errs[i] = denied
		case verr != nil:
			errs[i] = newKafkaError(kerr.InvalidRequest, "Invalid ACL creation: %v", verr)
		default:
			valid = append(valid, bd)
			at = append(at, i)
		}
	}
	if len(valid) > 0 {
		ctx, cancel := b.requestContext(aclRequestTimeout)
		err := b.meta.CreateACLs(ctx, valid)
		cancel()
		for k, bd := range valid {
			if err != nil {
				errs[at[k]] = newKafkaError(kerr.UnknownServerError, "%v", err)
			} else {
				c.adminAction("created ACL", "acl", bd.String(), "by", c.req.Conn.Principal())
			}
		}
	}
	for _, err := range errs {
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = errCodeOf(err), errText(err)
		resp.Results = append(resp.Results, r)
	}
	c.respond(resp)
}
