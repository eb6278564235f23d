package broker

// DescribeClientQuotas: versions 0-1. KafScale enforces no client quotas yet, so every
// valid filter matches no entry: the answer is an empty entry list. The filter is checked
// as a Kafka 4 broker checks it (ClientQuotasImage.describe), each failure answered with
// the error code and message and a null entry list: an empty or repeated entity type and a
// match string that does not fit its match type are INVALID_REQUEST, an entity type other
// than user, client-id and ip is UNSUPPORTED_VERSION, and ip with user or client-id is
// INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	if err := checkQuotaFilter(req.Components); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	resp.ErrorMessage = kmsg.StringPtr("") // Kafka's answer carries an empty message, not null
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	c.respond(resp)
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
