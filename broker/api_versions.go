package broker

// ApiVersions: versions 0-4. An unsupported version gets the v0 answer with
// UNSUPPORTED_VERSION and the supported list, as Kafka does (KIP-511), so clients can
// downgrade. The table is exactly the set of registered handlers, with Produce listed from
// v0 though served from v3 (KAFKA-18659, see produce.go).

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/codec"
	"github.com/kafscale/kafscale/netio"
	"github.com/kafscale/kafscale/reqmetrics"
)

func init() { register(kmsg.ApiVersions, 0, 4, (*Broker).handleAPIVersions) }

// apiTable returns the supported APIs sorted by key.
func apiTable() []codec.APIRange {
	out := make([]codec.APIRange, 0, len(apis))
	for k, a := range apis {
		out = append(out, codec.APIRange{Key: k, Min: a.advertisedMin, Max: a.max})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// On an authenticated connection (or one without SASL) ApiVersions counts against the
// request quota and may be throttled, as Kafka's KafkaApis.handleApiVersionsRequest
// (sendResponseMaybeThrottle); before SASL authentication it is exempt
// (requestQuotaExempt).
func (b *Broker) handleAPIVersions(c *call) {
	buf := codec.AppendAPIVersionsResponse(make([]byte, 0, 512), c.hdr.APIVersion, c.hdr.CorrelationID, 0, apiTable(), c.requestThrottle())
	c.send([][]byte{buf})
}

func (b *Broker) answerUnsupportedAPIVersions(req *netio.Request, hdr codec.RequestHeader) {
	buf := codec.AppendAPIVersionsResponse(make([]byte, 0, 512), 0, hdr.CorrelationID, kerr.UnsupportedVersion.Code, apiTable(), 0)
	reqmetrics.Count(int16(kmsg.ApiVersions), kerr.UnsupportedVersion.Code)
	req.Respond([][]byte{buf}, nil)
}
