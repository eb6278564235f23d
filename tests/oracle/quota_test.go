package oracle

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestQuotaThrottles sets request_percentage=0.01 (100 µs of request handling per
// second) for a client id of its own on s, then sends ApiVersions and Metadata with that
// client id in turn until an answer of each has carried throttle_time_ms, or a minute
// has passed. It returns which of the two were throttled: the fact compared with Kafka,
// which throttles ApiVersions as any client request (KafkaApis.handleApiVersionsRequest).
func requestQuotaThrottles(t *testing.T, s *server) string {
	t.Helper()
	id := named("request-quota")
	req := kmsg.NewPtrAlterClientQuotasRequest()
	req.Version = 1
	e := kmsg.NewAlterClientQuotasRequestEntry()
	ent := kmsg.NewAlterClientQuotasRequestEntryEntity()
	ent.Type, ent.Name = "client-id", &id
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value = "request_percentage", 0.01
	e.Entity, e.Ops = append(e.Entity, ent), append(e.Ops, op)
	req.Entries = append(req.Entries, e)
	if code := s.do(t, req).(*kmsg.AlterClientQuotasResponse).Entries[0].ErrorCode; code != 0 {
		t.Fatalf("%s: AlterClientQuotas request_percentage: %s", s.name, errName(code))
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(s.addr), kgo.ClientID(id))
	if err != nil {
		t.Fatalf("cannot make a client for %s: %v", s.name, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	br := cl.SeedBrokers()[0]
	throttled := map[string]bool{}
	for i := 0; len(throttled) < 2 && ctx.Err() == nil; i++ {
		var r kmsg.Request = kmsg.NewPtrApiVersionsRequest()
		if i%2 == 1 {
			r = kmsg.NewPtrMetadataRequest()
		}
		resp, err := br.Request(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("%s %s: %v", s.name, kmsg.NameForKey(r.Key()), err)
		}
		if ms, _ := resp.(kmsg.ThrottleResponse).Throttle(); ms > 0 {
			throttled[kmsg.NameForKey(r.Key())] = true
		}
	}
	var out []string
	for _, api := range []string{"ApiVersions", "Metadata"} {
		if throttled[api] {
			out = append(out, api+" throttled")
		} else {
			out = append(out, api+" not throttled within a minute")
		}
	}
	return strings.Join(out, ", ")
}
