package broker

// CreateAcls: versions 1-3 (Kafka 4.4's range). Each creation is checked as Kafka's
// AclControlManager.validateNewAcl does (a concrete resource type, LITERAL or PREFIXED, a
// concrete operation and permission, a principal of the form Type:name, the cluster named
// kafka-cluster; INVALID_REQUEST otherwise) and stored in etcd (meta/acls.go), where every
// broker's watch picks it up within a second. Creating a binding that exists succeeds and
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
	ctx, cancel := b.requestContext(aclRequestTimeout)
	defer cancel()
	for _, cr := range req.Creations {
		bd := acl.Binding{ResourceType: cr.ResourceType, PatternType: cr.ResourcePatternType, Name: cr.ResourceName,
			Principal: cr.Principal, Host: cr.Host, Operation: cr.Operation, Permission: cr.PermissionType}
		err := denied
		if err == nil {
			if verr := bd.Validate(); verr != nil {
				err = newKafkaError(kerr.InvalidRequest, "Invalid ACL creation: %v", verr)
			} else if serr := b.meta.CreateACL(ctx, bd); serr != nil {
				err = newKafkaError(kerr.UnknownServerError, "%v", serr)
			} else {
				c.adminAction("created ACL", "acl", bd.String(), "by", c.req.Conn.Principal())
			}
		}
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = errCodeOf(err), errText(err)
		resp.Results = append(resp.Results, r)
	}
	c.respond(resp)
}
