package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestListPartitionReassignments: nothing is ever reassigned (leadership moves without
// copying replicas), so every request, for all topics or named ones, known or not, answers
// no topics and no error, as a Kafka controller with no reassignment under way does.
func TestListPartitionReassignments(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	name := topicName(t)
	createTopic(t, c, name, 2, nil)
	for _, topics := range [][]kmsg.ListPartitionReassignmentsRequestTopic{
		nil,
		{{Topic: name, Partitions: []int32{0, 1, 9}}, {Topic: topicName(t), Partitions: []int32{0}}},
	} {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		req.Version = 0
		req.Topics = topics
		resp := c.do(req).(*kmsg.ListPartitionReassignmentsResponse)
		wantCode(t, fmt.Sprintf("ListPartitionReassignments of %d topics", len(topics)), resp.ErrorCode, nil)
		if len(resp.Topics) != 0 || resp.ErrorMessage != nil {
			t.Fatalf("ListPartitionReassignments of %d topics answers %+v, message %v; want none", len(topics), resp.Topics, resp.ErrorMessage)
		}
	}
}

// TestDescribeClientQuotas: no quotas exist, so a valid filter answers an empty entry list;
// a bad filter gets the error code Kafka 4.4 answers, with a message and null entries.
func TestDescribeClientQuotas(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	comp := func(typ string, match kmsg.QuotasMatchType, s *string) kmsg.DescribeClientQuotasRequestComponent {
		return kmsg.DescribeClientQuotasRequestComponent{EntityType: typ, MatchType: match, Match: s}
	}
	x := kmsg.StringPtr("x")
	for _, tc := range []struct {
		name  string
		comps []kmsg.DescribeClientQuotasRequestComponent
		want  *kerr.Error
	}{
		{"no components", nil, nil},
		{"user exact", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, x)}, nil},
		{"client-id default", []kmsg.DescribeClientQuotasRequestComponent{comp("client-id", kmsg.QuotasMatchTypeDefault, nil)}, nil},
		{"user and client-id specified", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, nil), comp("client-id", kmsg.QuotasMatchTypeAny, nil)}, nil},
		{"ip specified", []kmsg.DescribeClientQuotasRequestComponent{comp("ip", kmsg.QuotasMatchTypeAny, nil)}, nil},
		{"empty entity type", []kmsg.DescribeClientQuotasRequestComponent{comp("", kmsg.QuotasMatchTypeAny, nil)}, kerr.InvalidRequest},
		{"entity type twice", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, nil), comp("user", kmsg.QuotasMatchTypeExact, x)}, kerr.InvalidRequest},
		{"unknown entity type", []kmsg.DescribeClientQuotasRequestComponent{comp("group", kmsg.QuotasMatchTypeAny, nil)}, kerr.UnsupportedVersion},
		{"exact without a match", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, nil)}, kerr.InvalidRequest},
		{"default with a match", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeDefault, x)}, kerr.InvalidRequest},
		{"specified with a match", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, x)}, kerr.InvalidRequest},
		{"unknown match type", []kmsg.DescribeClientQuotasRequestComponent{comp("user", 9, nil)}, kerr.InvalidRequest},
		{"ip with user", []kmsg.DescribeClientQuotasRequestComponent{comp("ip", kmsg.QuotasMatchTypeAny, nil), comp("user", kmsg.QuotasMatchTypeAny, nil)}, kerr.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []int16{0, 1} {
				req := kmsg.NewPtrDescribeClientQuotasRequest()
				req.Version = v
				req.Components = tc.comps
				resp := c.do(req).(*kmsg.DescribeClientQuotasResponse)
				wantCode(t, fmt.Sprintf("DescribeClientQuotas v%d", v), resp.ErrorCode, tc.want)
				switch {
				case tc.want == nil && (resp.Entries == nil || len(resp.Entries) != 0):
					t.Fatalf("v%d answers entries %+v, want an empty list", v, resp.Entries)
				case tc.want != nil && (resp.Entries != nil || resp.ErrorMessage == nil || *resp.ErrorMessage == ""):
					t.Fatalf("v%d error answer has entries %+v and message %v, want null entries and a message", v, resp.Entries, resp.ErrorMessage)
				}
			}
		})
	}
}

// TestDescribeAcls: there is no authorizer, so every version answers SECURITY_DISABLED with
// no resources, as Kafka 4.4 without authorizer.class.name does; a filter holding an
// UNKNOWN (0) element fails Kafka's request parsing, which closes the connection.
func TestDescribeAcls(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	for v := int16(1); v <= 3; v++ {
		t.Run(fmt.Sprintf("v%d SECURITY_DISABLED", v), func(t *testing.T) {
			c := dial(ctx, t, b.Addr)
			req := kmsg.NewPtrDescribeACLsRequest()
			req.Version = v
			req.ResourceType = kmsg.ACLResourceTypeAny
			req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
			req.Operation = kmsg.ACLOperationAny
			req.PermissionType = kmsg.ACLPermissionTypeAny
			resp := c.do(req).(*kmsg.DescribeACLsResponse)
			wantCode(t, "DescribeAcls", resp.ErrorCode, kerr.SecurityDisabled)
			if len(resp.Resources) != 0 || resp.ErrorMessage == nil {
				t.Fatalf("answers %d resources, message %v; want none and a message", len(resp.Resources), resp.ErrorMessage)
			}
		})
	}
	t.Run("UNKNOWN filter element closes the connection", func(t *testing.T) {
		c := dial(ctx, t, b.Addr)
		req := kmsg.NewPtrDescribeACLsRequest()
		req.Version = 3
		req.ResourceType = 0
		req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
		req.Operation = kmsg.ACLOperationAny
		req.PermissionType = kmsg.ACLPermissionTypeAny
		c.send(req)
		if read, closed := c.awaitClose(); !closed || len(read) > 0 {
			t.Fatalf("connection closed %t after reading % x, want closed without an answer", closed, read)
		}
	})
}
