package meta

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func TestACLKeyRoundTrip(t *testing.T) {
	k := NewKeys("/p")
	for _, b := range []acl.Binding{
		{ResourceType: acl.Group, PatternType: acl.Prefixed, Name: "a/b%c d", Principal: "User:CN=x,O=y/z", Host: "::1", Operation: acl.Read, Permission: acl.Allow},
		{ResourceType: acl.Cluster, PatternType: acl.Literal, Name: acl.ClusterName, Principal: "User:*", Host: "*", Operation: acl.Alter, Permission: acl.Deny},
	} {
		got, err := k.ParseACL(k.ACL(b))
		if err != nil || got != b {
			t.Errorf("ParseACL(ACL(%s)) = %s, %v", b, got, err)
		}
	}
	if _, err := k.ParseACL("/p/acls/2/3/x"); err == nil {
		t.Error("a short key parsed")
	}
}

// TestACLsCreateDeleteWatch: bindings created are listed, seen by a watch, deleted by a
// filter exactly once, and the watch sees the deletion.
func TestACLsCreateDeleteWatch(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := s.WatchACLs(ctx)
	if first := <-w; len(first) != 0 {
		t.Fatalf("first set %v, want empty", first)
	}
	a := acl.Binding{ResourceType: acl.Topic, PatternType: acl.Literal, Name: "t", Principal: "User:a", Host: "*", Operation: acl.Read, Permission: acl.Allow}
	b := a
	b.Principal = "User:b"
	if err := s.CreateACLs(ctx, []acl.Binding{a, b}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateACLs(ctx, []acl.Binding{a}); err != nil { // again: no error, one key
		t.Fatal(err)
	}
	waitFor := func(n int) {
		t.Helper()
		for set := range w {
			if len(set) == n {
				return
			}
		}
		t.Fatalf("watch ended before it saw %d ACLs", n)
	}
	waitFor(2)
	p := "User:a"
	f := acl.Filter{ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny, Principal: &p,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}
	deleted, err := s.DeleteACLs(ctx, f)
	if err != nil || len(deleted) != 1 || deleted[0] != a {
		t.Fatalf("DeleteACLs = %v, %v; want [%s]", deleted, err, a)
	}
	if deleted, err := s.DeleteACLs(ctx, f); err != nil || len(deleted) != 0 {
		t.Fatalf("second DeleteACLs = %v, %v; want nothing", deleted, err)
	}
	waitFor(1)
	all, _, err := s.ListACLs(ctx)
	if err != nil || len(all) != 1 || all[0] != b {
		t.Fatalf("ListACLs = %v, %v; want [%s]", all, err, b)
	}
}
