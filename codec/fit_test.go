package codec

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFitStringsKeepsResponsesDecodable guards against responses that cannot be decoded:
// in non-flexible versions kmsg writes a string longer than 32,767 bytes with a 16-bit
// length that wraps (a group's 40,000-byte protocol type broke every ListGroups v0-v2
// answer; an error message naming a 32,767-byte topic broke CreatePartitions v1).
func TestFitStringsKeepsResponsesDecodable(t *testing.T) {
	long := strings.Repeat("x", 40000)
	accents := strings.Repeat("é", 20000) // 2 bytes each: a cut at 32,767 would split one
	tests := []struct {
		name    string
		resp    func() kmsg.Response
		version int16
		cut     []string
		check   func(t *testing.T, r kmsg.Response)
	}{
		{
			name: "ListGroups v0 protocol type", version: 0, cut: []string{"Groups.ProtocolType"},
			resp: func() kmsg.Response {
				r := kmsg.NewPtrListGroupsResponse()
				r.Groups = []kmsg.ListGroupsResponseGroup{{Group: "a", ProtocolType: "consumer"}, {Group: "b", ProtocolType: long}}
				return r
			},
			check: func(t *testing.T, r kmsg.Response) {
				g := r.(*kmsg.ListGroupsResponse).Groups
				if g[0].ProtocolType != "consumer" || g[1].ProtocolType != long[:MaxShortString] {
					t.Fatalf("protocol types after decoding: %q, %d bytes", g[0].ProtocolType, len(g[1].ProtocolType))
				}
			},
		},
		{
			name: "ListGroups v3 is flexible and keeps the whole string", version: 3,
			resp: func() kmsg.Response {
				r := kmsg.NewPtrListGroupsResponse()
				r.Groups = []kmsg.ListGroupsResponseGroup{{Group: "b", ProtocolType: long}}
				return r
			},
			check: func(t *testing.T, r kmsg.Response) {
				if got := r.(*kmsg.ListGroupsResponse).Groups[0].ProtocolType; got != long {
					t.Fatalf("protocol type has %d bytes, want %d", len(got), len(long))
				}
			},
		},
		{
			name: "CreatePartitions v1 error message cut on a UTF-8 boundary", version: 1, cut: []string{"Topics.ErrorMessage"},
			resp: func() kmsg.Response {
				r := kmsg.NewPtrCreatePartitionsResponse()
				msg := "topic " + accents + " does not exist"
				r.Topics = []kmsg.CreatePartitionsResponseTopic{{Topic: "t", ErrorCode: 3, ErrorMessage: &msg}}
				return r
			},
			check: func(t *testing.T, r kmsg.Response) {
				msg := r.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorMessage
				if msg == nil || len(*msg) != MaxShortString-1 || !utf8.ValidString(*msg) {
					t.Fatalf("error message after decoding is not 32,766 bytes of valid UTF-8")
				}
			},
		},
		{
			name: "DescribeGroups v0 member and protocol fields", version: 0, cut: []string{"Groups.Protocol", "Groups.Members.MemberID"},
			resp: func() kmsg.Response {
				r := kmsg.NewPtrDescribeGroupsResponse()
				g := kmsg.NewDescribeGroupsResponseGroup()
				g.Group, g.Protocol = "g", long
				g.Members = []kmsg.DescribeGroupsResponseGroupMember{{MemberID: long, ClientID: "c", ProtocolMetadata: []byte(long)}}
				r.Groups = append(r.Groups, g)
				return r
			},
			check: func(t *testing.T, r kmsg.Response) {
				m := r.(*kmsg.DescribeGroupsResponse).Groups[0].Members[0]
				if len(m.MemberID) != MaxShortString || len(m.ProtocolMetadata) != len(long) || m.ClientID != "c" {
					t.Fatalf("member after decoding: id %d bytes, metadata %d bytes, client %q", len(m.MemberID), len(m.ProtocolMetadata), m.ClientID)
				}
			},
		},
		{
			name: "exactly 32,767 bytes fits", version: 0,
			resp: func() kmsg.Response {
				r := kmsg.NewPtrListGroupsResponse()
				r.Groups = []kmsg.ListGroupsResponseGroup{{Group: long[:MaxShortString]}}
				return r
			},
			check: func(t *testing.T, r kmsg.Response) {
				if got := r.(*kmsg.ListGroupsResponse).Groups[0].Group; len(got) != MaxShortString {
					t.Fatalf("group has %d bytes", len(got))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.resp()
			resp.SetVersion(tt.version)
			if cut := FitStrings(resp); !slices.Equal(cut, tt.cut) {
				t.Fatalf("FitStrings cut %q, want %q", cut, tt.cut)
			}
			back := resp.RequestKind().ResponseKind()
			back.SetVersion(tt.version)
			if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Fatalf("cannot decode the fitted response: %v", err)
			}
			tt.check(t, back)
		})
	}
}

// TestFitStringsLeavesSharedPointeesAlone guards against a cut reaching state the
// response was built from: a *string field may point at a group's own value.
func TestFitStringsLeavesSharedPointeesAlone(t *testing.T) {
	shared := strings.Repeat("p", 40000)
	r := kmsg.NewPtrJoinGroupResponse()
	r.SetVersion(5)
	r.Protocol = &shared
	if cut := FitStrings(r); !slices.Equal(cut, []string{"Protocol"}) {
		t.Fatalf("FitStrings cut %q", cut)
	}
	if len(shared) != 40000 || len(*r.Protocol) != MaxShortString {
		t.Fatalf("shared string has %d bytes, response's %d", len(shared), len(*r.Protocol))
	}
}

// TestAppendResponseCutsOnlyWhatDoesNotFit checks the size gate: a large response whose
// strings fit is encoded once and unchanged; one with a long string is re-encoded cut.
func TestAppendResponseCutsOnlyWhatDoesNotFit(t *testing.T) {
	resp := produceResponse()
	want := resp.AppendTo(nil)
	got, cut := AppendResponse([]byte{1, 2}, resp)
	if cut != nil || string(got[2:]) != string(want) {
		t.Fatalf("a response whose strings fit was changed (cut %q)", cut)
	}
	msg := strings.Repeat("m", 40000)
	resp.SetVersion(8) // error messages from v8
	resp.Topics[0].Partitions[0].ErrorMessage = &msg
	got, cut = AppendResponse([]byte{1, 2}, resp)
	if !slices.Equal(cut, []string{"Topics.Partitions.ErrorMessage"}) {
		t.Fatalf("cut %q", cut)
	}
	back := kmsg.NewPtrProduceResponse()
	back.SetVersion(8)
	if err := back.ReadFrom(got[2:]); err != nil {
		t.Fatalf("cannot decode the cut response: %v", err)
	}
}
