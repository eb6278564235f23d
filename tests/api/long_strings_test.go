package api

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestErrorMessagesFitNonFlexibleVersions guards against error messages that wrap: a
// message quoting a client's 32,767-byte topic name ("topic ... does not exist") is
// longer than a non-flexible version's 16-bit string length, so in the CreatePartitions
// v0-v1 answer its length wrapped negative (read as null) and its bytes were left over
// as garbage. The broker now cuts such a string to the longest that fits.
func TestErrorMessagesFitNonFlexibleVersions(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	name := strings.Repeat("t", 32767)
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.TimeoutMillis = v, 30000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, 2
		req.Topics = append(req.Topics, rt)
		resp := c.do(req).(*kmsg.CreatePartitionsResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].Topic != name {
			t.Fatalf("CreatePartitions v%d answers %d topics, not the one asked about", v, len(resp.Topics))
		}
		got := resp.Topics[0]
		wantCode(t, "CreatePartitions of a topic that does not exist", got.ErrorCode, kerr.UnknownTopicOrPartition)
		if msg := orNull(got.ErrorMessage); !strings.Contains(msg, "topic tttt") || len(msg) > 32767 {
			t.Errorf("CreatePartitions v%d error message is not the start of the message cut to 32,767 bytes: %.40q (%d bytes)", v, msg, len(msg))
		}
	}
}

// orNull is *s, or "<null>" for a null string.
func orNull(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}
