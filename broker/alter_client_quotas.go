package broker

// AlterClientQuotas: versions 0-1 (KIP-546). Each entry names an entity (user, client-id
// or both, a null name meaning <default>) and sets or removes quota keys; the keys
// enforced are producer_byte_rate and consumer_byte_rate (whole bytes per second >0) and
// request_percentage (a percentage >0, KIP-124); controller_mutation_rate and Kafka's
// other keys are refused with INVALID_REQUEST rather than stored and ignored, as are ip
// entities. An entry is applied in one etcd transaction
// (meta/quotas.go) that every broker's watch picks up; validate_only checks without
// storing. Needs ALTER_CONFIGS on the cluster when the authorizer is on.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/quota"
)

func init() { register(kmsg.AlterClientQuotas, 0, 1, (*Broker).handleAlterClientQuotas) }

func (b *Broker) handleAlterClientQuotas(c *call) {
	req := c.kreq.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	var denied error
	if !c.may(acl.Cluster, acl.ClusterName) {
		denied = newKafkaError(kerr.ClusterAuthorizationFailed, "Cluster authorization failed.")
	}
	ctx, cancel := b.requestContext(quotaRequestTimeout)
	defer cancel()
	for _, en := range req.Entries {
		r := kmsg.NewAlterClientQuotasResponseEntry()
		types := make([]string, len(en.Entity))
		names := make([]*string, len(en.Entity))
		for i, ent := range en.Entity {
			types[i], names[i] = ent.Type, ent.Name
			re := kmsg.NewAlterClientQuotasResponseEntryEntity()
			re.Type, re.Name = ent.Type, ent.Name
			r.Entity = append(r.Entity, re)
		}
		err := denied
		var e quota.Entity
		if err == nil {
			e, err = quotaEntity(types, names)
		}
		ops := make([]meta.QuotaOp, 0, len(en.Ops))
		seen := make(map[string]bool, len(en.Ops))
		for _, op := range en.Ops {
			if err != nil {
				break
			}
			switch {
			case seen[op.Key]:
				err = newKafkaError(kerr.InvalidRequest, "Duplicate quota key %s for entity %s", op.Key, e)
			case op.Remove && quota.Check(op.Key, 1) != nil:
				err = newKafkaError(kerr.InvalidRequest, "%v", quota.Check(op.Key, 1))
			case !op.Remove && quota.Check(op.Key, op.Value) != nil:
				err = newKafkaError(kerr.InvalidRequest, "%v", quota.Check(op.Key, op.Value))
			}
			seen[op.Key] = true
			ops = append(ops, meta.QuotaOp{Key: op.Key, Value: op.Value, Remove: op.Remove})
		}
		if err == nil && !req.ValidateOnly && len(ops) > 0 {
			if serr := b.meta.AlterQuotas(ctx, e, ops); serr != nil {
				err = newKafkaError(kerr.UnknownServerError, "%v", serr)
			} else {
				c.adminAction("altered client quotas", "entity", e.String(), "ops", len(ops), "by", c.req.Conn.Principal())
			}
		}
		r.ErrorCode, r.ErrorMessage = errCodeOf(err), errText(err)
		resp.Entries = append(resp.Entries, r)
	}
	c.respond(resp)
}
