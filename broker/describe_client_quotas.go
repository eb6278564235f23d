package broker

// DescribeClientQuotas: versions 0-1. The answer lists the stored quotas (broker/quotas.go)
// of every entity the filter matches: a component with match type EXACT matches an entity
// with that name for the type, DEFAULT one with <default>, ANY one with the type set
// (named or default); with strict, entities with a type the filter does not name are left
// out, as Kafka's ClientQuotasImage.describe. Needs DESCRIBE_CONFIGS on the cluster when
// the authorizer is on. The filter is checked
// as a Kafka 4 broker checks it (ClientQuotasImage.describe), each failure answered with
// the error code and message and a null entry list: an empty or repeated entity type and a
// match string that does not fit its match type are INVALID_REQUEST, an entity type other
// than user, client-id and ip is UNSUPPORTED_VERSION, and ip with user or client-id is
// INVALID_REQUEST.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/quota"
)

func init() { register(kmsg.DescribeClientQuotas, 0, 1, (*Broker).handleDescribeClientQuotas) }

// Client quota entity types.
const (
	quotaUser     = "user"
	quotaClientID = "client-id"
	quotaIP       = "ip"
)

func (b *Broker) handleDescribeClientQuotas(c *call) {
	req := c.kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	err := checkQuotaFilter(req.Components)
	if err == nil && !c.may(acl.Cluster, acl.ClusterName) {
		err = newKafkaError(kerr.ClusterAuthorizationFailed, "Cluster authorization failed.")
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	resp.ErrorMessage = kmsg.StringPtr("") // Kafka's answer carries an empty message, not null
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	var set quota.Set
	if p := b.quotas.Load(); p != nil {
		set = *p
	}
	for e, values := range set {
		if !quotaFilterMatches(req.Components, req.Strict, e) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, ep := range []struct {
			typ string
			p   quota.Part
		}{{quotaUser, e.User}, {quotaClientID, e.ClientID}} {
			if !ep.p.Present {
				continue
			}
			ent := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ent.Type = ep.typ
			if !ep.p.Default {
				ent.Name = kmsg.StringPtr(ep.p.Name)
			}
			entry.Entity = append(entry.Entity, ent)
		}
		keys := make([]string, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, values[k]
			entry.Values = append(entry.Values, v)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	c.respond(resp)
}

// quotaFilterMatches reports whether a valid filter matches entity e.
func quotaFilterMatches(components []kmsg.DescribeClientQuotasRequestComponent, strict bool, e quota.Entity) bool {
	named := 0
	for _, comp := range components {
		var p quota.Part
		switch comp.EntityType {
		case quotaUser:
			p = e.User
		case quotaClientID:
			p = e.ClientID
		default: // ip: KafScale stores no ip quotas
			return false
		}
		named++
		switch comp.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if !p.Present || p.Default || p.Name != *comp.Match {
				return false
			}
		case kmsg.QuotasMatchTypeDefault:
			if !p.Present || !p.Default {
				return false
			}
		default: // ANY
			if !p.Present {
				return false
			}
		}
	}
	if strict {
		present := 0
		if e.User.Present {
			present++
		}
		if e.ClientID.Present {
			present++
		}
		return present == named
	}
	return true
}

// checkQuotaFilter reports the first thing wrong with a DescribeClientQuotas filter.
func checkQuotaFilter(components []kmsg.DescribeClientQuotasRequestComponent) error {
	seen := make(map[string]bool, len(components))
	for _, comp := range components {
		switch {
		case comp.EntityType == "":
			return newKafkaError(kerr.InvalidRequest, "Invalid empty entity type.")
		case seen[comp.EntityType]:
			return newKafkaError(kerr.InvalidRequest, "Entity type %s cannot appear more than once in the filter.", comp.EntityType)
		case comp.EntityType != quotaUser && comp.EntityType != quotaClientID && comp.EntityType != quotaIP:
			return newKafkaError(kerr.UnsupportedVersion, "Unsupported entity type %s", comp.EntityType)
		}
		seen[comp.EntityType] = true
		switch comp.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if comp.Match == nil {
				return newKafkaError(kerr.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
		case kmsg.QuotasMatchTypeDefault:
			if comp.Match != nil {
				return newKafkaError(kerr.InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
		case kmsg.QuotasMatchTypeAny:
			if comp.Match != nil {
				return newKafkaError(kerr.InvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
		default:
			return newKafkaError(kerr.InvalidRequest, "Unknown match type %d", comp.MatchType)
		}
	}
	if seen[quotaIP] && (seen[quotaUser] || seen[quotaClientID]) {
		return newKafkaError(kerr.InvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	return nil
}
