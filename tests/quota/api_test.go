package quota

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestAlterDescribeClientQuotas: AlterClientQuotas refuses what KafScale does not enforce
// (INVALID_REQUEST with a message) and stores nothing with validate_only;
// DescribeClientQuotas matches entities as Kafka (EXACT, DEFAULT, ANY, strict).
func TestAlterDescribeClientQuotas(t *testing.T) {
	p := testbroker.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	name := func(s string) *string { return &s }
	type ent struct {
		typ  string
		name *string
	}
	alter := func(validateOnly bool, key string, v float64, es ...ent) (int16, string) {
		t.Helper()
		req := kmsg.NewPtrAlterClientQuotasRequest()
		req.ValidateOnly = validateOnly
		e := kmsg.NewAlterClientQuotasRequestEntry()
		for _, x := range es {
			c := kmsg.NewAlterClientQuotasRequestEntryEntity()
			c.Type, c.Name = x.typ, x.name
			e.Entity = append(e.Entity, c)
		}
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = key, v
		e.Ops = append(e.Ops, op)
		req.Entries = append(req.Entries, e)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("AlterClientQuotas: %v", err)
		}
		r := resp.Entries[0]
		msg := ""
		if r.ErrorMessage != nil {
			msg = *r.ErrorMessage
		}
		return r.ErrorCode, msg
	}
	for _, c := range []struct {
		what string
		key  string
		v    float64
		es   []ent
		want string
	}{
		{"controller_mutation_rate", "controller_mutation_rate", 50, []ent{{"user", name("u")}}, "not enforced"},
		{"zero request_percentage", "request_percentage", 0, []ent{{"user", name("u")}}, ">0"},
		{"unknown key", "bogus_rate", 5, []ent{{"user", name("u")}}, "unknown quota key"},
		{"zero rate", "producer_byte_rate", 0, []ent{{"user", name("u")}}, ">0"},
		{"fractional rate", "producer_byte_rate", 1.5, []ent{{"user", name("u")}}, "whole number"},
		{"ip entity", "connection_creation_rate", 5, []ent{{"ip", name("1.2.3.4")}}, "ip quotas"},
		{"user twice", "producer_byte_rate", 5, []ent{{"user", name("u")}, {"user", name("v")}}, "more than once"},
		{"no entity", "producer_byte_rate", 5, nil, "empty"},
	} {
		code, msg := alter(false, c.key, c.v, c.es...)
		if code != kerr.InvalidRequest.Code || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %d %q, want INVALID_REQUEST containing %q", c.what, code, msg, c.want)
		}
	}

	if code, msg := alter(true, "producer_byte_rate", 100, ent{"user", name("dry")}); code != 0 {
		t.Fatalf("validate_only: error %d %s", code, msg)
	}
	for _, x := range []struct {
		es []ent
		v  float64
	}{
		{[]ent{{"user", name("alice")}}, 1},
		{[]ent{{"user", name("alice")}, {"client-id", name("app")}}, 2},
		{[]ent{{"user", nil}}, 3},
		{[]ent{{"client-id", nil}}, 4},
	} {
		if code, msg := alter(false, "consumer_byte_rate", x.v, x.es...); code != 0 {
			t.Fatalf("alter %v: error %d %s", x.es, code, msg)
		}
	}

	// describe returns the values (consumer_byte_rate) of the entities a filter matches.
	describe := func(strict bool, comps ...kmsg.DescribeClientQuotasRequestComponent) []float64 {
		t.Helper()
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		req.Strict, req.Components = strict, comps
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("DescribeClientQuotas: %v, code %d", err, resp.ErrorCode)
		}
		var out []float64
		for _, e := range resp.Entries {
			for _, v := range e.Values {
				out = append(out, v.Value)
			}
		}
		slices.Sort(out)
		return out
	}
	comp := func(typ string, mt kmsg.QuotasMatchType, m *string) kmsg.DescribeClientQuotasRequestComponent {
		return kmsg.DescribeClientQuotasRequestComponent{EntityType: typ, MatchType: mt, Match: m}
	}
	// The quotas arrive through the broker's etcd watch.
	kafkatest.WaitFor(t, 10*time.Second, "the four quotas to be described", func() bool { return len(describe(false)) == 4 })
	for _, c := range []struct {
		what   string
		strict bool
		comps  []kmsg.DescribeClientQuotasRequestComponent
		want   []float64
	}{
		{"everything", false, nil, []float64{1, 2, 3, 4}},
		{"user alice", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, name("alice"))}, []float64{1, 2}},
		{"user alice strict", true, []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, name("alice"))}, []float64{1}},
		{"default user", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeDefault, nil)}, []float64{3}},
		{"any user", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, nil)}, []float64{1, 2, 3}},
		{"any client-id strict", true, []kmsg.DescribeClientQuotasRequestComponent{comp("client-id", kmsg.QuotasMatchTypeAny, nil)}, []float64{4}},
		{"user and client-id", true, []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, nil), comp("client-id", kmsg.QuotasMatchTypeExact, name("app"))}, []float64{2}},
		{"validate_only stored nothing", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, name("dry"))}, nil},
	} {
		if got := describe(c.strict, c.comps...); !slices.Equal(got, c.want) {
			t.Errorf("%s: described %v, want %v", c.what, got, c.want)
		}
	}
}
