package acl

import (
	"fmt"
	"testing"
)

var sinkAllowed bool

// BenchmarkAuthorize: one decision against 1,000 literal topic ACLs and 100 prefixed ones,
// what Produce and Fetch pay per topic of a request.
func BenchmarkAuthorize(b *testing.B) {
	var bs []Binding
	for i := range 1000 {
		bs = append(bs, bind(Topic, Literal, fmt.Sprintf("topic-%d", i), fmt.Sprintf("User:u%d", i%50), "*", Write, Allow))
	}
	for i := range 100 {
		bs = append(bs, bind(Topic, Prefixed, fmt.Sprintf("team-%d.", i), fmt.Sprintf("User:u%d", i%50), "*", Read, Allow))
	}
	a := New(Config{})
	a.Set(bs)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkAllowed = a.Authorize("User:u7", "10.0.0.1", Write, Topic, "topic-507")
	}
}
