package broker

// DeleteAcls: versions 1-3 (Kafka 4.4's range). Each filter (acl.Filter: ANY and MATCH as
// Kafka) deletes the stored bindings it selects, in one etcd transaction per filter, and
// answers them as its matching ACLs. Needs ALTER on the cluster; without an authorizer
// every filter gets SECURITY_DISABLED, as in Kafka. A filter holding an UNKNOWN element
// gets INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() { register(kmsg.DeleteACLs, 1, 3, (*Broker).handleDeleteACLs) }

func (b *Broker) handleDeleteACLs(c *call) {
	req := c.kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	denied := b.aclAPIError(c)
	ctx, cancel := b.requestContext(aclRequestTimeout)
	defer cancel()
	for _, rf := range req.Filters {
		f := acl.Filter{ResourceType: rf.ResourceType, PatternType: rf.ResourcePatternType, Name: rf.ResourceName,
			Principal: rf.Principal, Host: rf.Host, Operation: rf.Operation, Permission: rf.PermissionType}
		r := kmsg.NewDeleteACLsResponseResult()
		err := denied
		if err == nil {
			if verr := f.Validate(); verr != nil {
				err = newKafkaError(kerr.InvalidRequest, "Invalid ACL filter: %v", verr)
			}
		}
		if err == nil {
			deleted, derr := b.meta.DeleteACLs(ctx, f)
			if derr != nil {
				err = newKafkaError(kerr.UnknownServerError, "%v", derr)
			}
			for _, bd := range deleted {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName, m.ResourcePatternType = bd.ResourceType, bd.Name, bd.PatternType
				m.Principal, m.Host, m.Operation, m.PermissionType = bd.Principal, bd.Host, bd.Operation, bd.Permission
				r.MatchingACLs = append(r.MatchingACLs, m)
				c.adminAction("deleted ACL", "acl", bd.String(), "by", c.req.Conn.Principal())
			}
		}
		r.ErrorCode, r.ErrorMessage = errCodeOf(err), errText(err)
		resp.Results = append(resp.Results, r)
	}
	c.respond(resp)
}
