package acl

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func bind(rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, name, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) Binding {
	return Binding{ResourceType: rt, PatternType: pt, Name: name, Principal: principal, Host: host, Operation: op, Permission: perm}
}

func TestAuthorize(t *testing.T) {
	acls := []Binding{
		bind(Topic, Literal, "orders", "User:alice", "*", Read, Allow),
		bind(Topic, Literal, "orders", "User:bob", "*", Write, Allow),
		bind(Topic, Prefixed, "team-a.", "User:carol", "*", All, Allow),
		bind(Topic, Literal, "team-a.secret", "User:carol", "*", Read, Deny),
		bind(Topic, Literal, "*", "User:dave", "*", Describe, Allow),
		bind(Topic, Literal, "hosted", "User:erin", "10.0.0.1", Write, Allow),
		bind(Topic, Literal, "public", "User:*", "*", Read, Allow),
		bind(Topic, Literal, "configs", "User:frank", "*", AlterConfigs, Allow),
		bind(Group, Literal, "g1", "User:alice", "*", Read, Allow),
		bind(Cluster, Literal, ClusterName, "User:gina", "*", Alter, Allow),
	}
	a := New(Config{SuperUsers: []string{"User:admin"}})
	a.Set(acls)
	cases := []struct {
		name            string
		principal, host string
		op              kmsg.ACLOperation
		rt              kmsg.ACLResourceType
		res             string
		want            bool
	}{
		{"literal allow", "User:alice", "1.2.3.4", Read, Topic, "orders", true},
		{"other operation", "User:alice", "1.2.3.4", Write, Topic, "orders", false},
		{"READ implies DESCRIBE", "User:alice", "1.2.3.4", Describe, Topic, "orders", true},
		{"WRITE implies DESCRIBE", "User:bob", "1.2.3.4", Describe, Topic, "orders", true},
		{"WRITE does not imply READ", "User:bob", "1.2.3.4", Read, Topic, "orders", false},
		{"other principal", "User:zed", "1.2.3.4", Read, Topic, "orders", false},
		{"prefixed ALL", "User:carol", "1.2.3.4", Write, Topic, "team-a.x", true},
		{"prefix does not match", "User:carol", "1.2.3.4", Write, Topic, "team-b.x", false},
		{"deny wins over prefixed allow", "User:carol", "1.2.3.4", Read, Topic, "team-a.secret", false},
		{"deny of READ leaves WRITE", "User:carol", "1.2.3.4", Write, Topic, "team-a.secret", true},
		{"wildcard name", "User:dave", "1.2.3.4", Describe, Topic, "anything", true},
		{"wildcard name, other op", "User:dave", "1.2.3.4", Read, Topic, "anything", false},
		{"host matches", "User:erin", "10.0.0.1", Write, Topic, "hosted", true},
		{"host does not match", "User:erin", "10.0.0.2", Write, Topic, "hosted", false},
		{"wildcard principal", "User:anyone", "1.2.3.4", Read, Topic, "public", true},
		{"ALTER_CONFIGS implies DESCRIBE_CONFIGS", "User:frank", "1.2.3.4", DescribeConfigs, Topic, "configs", true},
		{"super user", "User:admin", "1.2.3.4", Delete, Topic, "orders", true},
		{"no ACL for the resource: denied", "User:alice", "1.2.3.4", Read, Topic, "nobody-spoke", false},
		{"group", "User:alice", "1.2.3.4", Read, Group, "g1", true},
		{"no group ACLs for bob", "User:bob", "1.2.3.4", Read, Group, "g1", false},
		{"cluster", "User:gina", "1.2.3.4", Alter, Cluster, ClusterName, true},
		{"no ACL of the type", "User:gina", "1.2.3.4", Write, TransactionalID, "tx", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := a.Authorize(c.principal, c.host, c.op, c.rt, c.res); got != c.want {
				t.Errorf("Authorize(%s, %s, %s, %s %q) = %v, want %v", c.principal, c.host, c.op, c.rt, c.res, got, c.want)
			}
		})
	}
}

func TestAllowEveryoneIfNoACLFound(t *testing.T) {
	a := New(Config{AllowIfNoACL: true})
	a.Set([]Binding{bind(Topic, Literal, "orders", "User:alice", "*", Read, Allow)})
	if !a.Authorize("User:bob", "1.2.3.4", Write, Topic, "other") {
		t.Error("a topic without ACLs is denied with allow.everyone.if.no.acl.found")
	}
	if a.Authorize("User:bob", "1.2.3.4", Read, Topic, "orders") {
		t.Error("a topic with ACLs is allowed to a principal none names")
	}
}

func TestAuthorizeAny(t *testing.T) {
	a := New(Config{})
	a.Set([]Binding{bind(Topic, Prefixed, "a.", "User:alice", "*", Write, Allow),
		bind(Topic, Literal, "b", "User:bob", "*", Write, Allow),
		bind(Topic, Literal, "*", "User:bob", "*", Write, Deny)})
	if !a.AuthorizeAny("User:alice", "h", Write, Topic) {
		t.Error("alice may write some topic")
	}
	if a.AuthorizeAny("User:bob", "h", Write, Topic) {
		t.Error("bob is denied WRITE on every topic")
	}
	if a.AuthorizeAny("User:carol", "h", Write, Topic) {
		t.Error("carol has no ACL")
	}
}

func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	lit := bind(Topic, Literal, "orders", "User:alice", "*", Read, Allow)
	pre := bind(Topic, Prefixed, "ord", "User:alice", "*", Read, Allow)
	wild := bind(Topic, Literal, "*", "User:bob", "*", Write, Deny)
	grp := bind(Group, Literal, "orders", "User:alice", "*", Read, Allow)
	all := []Binding{lit, pre, wild, grp}
	any := Filter{ResourceType: kmsg.ACLResourceTypeAny, PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}
	cases := []struct {
		name string
		f    func(Filter) Filter
		want []Binding
	}{
		{"everything", func(f Filter) Filter { return f }, all},
		{"topics", func(f Filter) Filter { f.ResourceType = Topic; return f }, []Binding{lit, pre, wild}},
		{"ANY pattern, exact name", func(f Filter) Filter { f.Name = s("orders"); return f }, []Binding{lit, grp}},
		{"MATCH", func(f Filter) Filter {
			f.ResourceType, f.PatternType, f.Name = Topic, kmsg.ACLResourcePatternTypeMatch, s("orders")
			return f
		}, []Binding{lit, pre, wild}},
		{"PREFIXED", func(f Filter) Filter { f.PatternType = Prefixed; return f }, []Binding{pre}},
		{"principal", func(f Filter) Filter { f.Principal = s("User:bob"); return f }, []Binding{wild}},
		{"permission", func(f Filter) Filter { f.Permission = Deny; return f }, []Binding{wild}},
		{"operation", func(f Filter) Filter { f.Operation = Write; return f }, []Binding{wild}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.f(any)
			var got []Binding
			for _, b := range all {
				if f.Matches(b) {
					got = append(got, b)
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("matched %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("matched %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := bind(Topic, Literal, "t", "User:a", "*", Read, Allow)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Binding){
		"ANY resource type":  func(b *Binding) { b.ResourceType = kmsg.ACLResourceTypeAny },
		"MATCH pattern":      func(b *Binding) { b.PatternType = kmsg.ACLResourcePatternTypeMatch },
		"ANY operation":      func(b *Binding) { b.Operation = kmsg.ACLOperationAny },
		"ANY permission":     func(b *Binding) { b.Permission = kmsg.ACLPermissionTypeAny },
		"empty name":         func(b *Binding) { b.Name = "" },
		"principal no type":  func(b *Binding) { b.Principal = "alice" },
		"cluster named else": func(b *Binding) { b.ResourceType, b.Name = Cluster, "c" },
		"empty host":         func(b *Binding) { b.Host = "" },
	}
	for name, mut := range bad {
		b := good
		mut(&b)
		if b.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
