package acl

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config holds the authorizer's settings.
type Config struct {
	// SuperUsers may do anything, whatever the ACLs say (super.users).
	SuperUsers []string
	// AllowIfNoACL lets everyone do what no ACL of the resource speaks of
	// (allow.everyone.if.no.acl.found); false by default, as in Kafka.
	AllowIfNoACL bool
}

// ParseSuperUsers splits Kafka's super.users form, "User:admin;User:ops", checking each.
func ParseSuperUsers(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := ValidatePrincipal(p); err != nil {
			return nil, fmt.Errorf("--super-users: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Authorizer decides requests against the latest set of bindings. Its methods are safe
// from any goroutine: Set swaps the whole set at once, so a decision never sees half of
// an update.
type Authorizer struct {
	super        map[string]bool
	allowIfNoACL bool
	set          atomic.Pointer[index]
}

// index is one immutable set of bindings, by resource type.
type index map[kmsg.ACLResourceType]*typeIndex

type typeIndex struct {
	literal  map[string][]Binding // by name; "*" holds the wildcard bindings
	prefixed []Binding
}

// New returns an Authorizer with no bindings yet.
func New(cfg Config) *Authorizer {
	a := &Authorizer{super: map[string]bool{}, allowIfNoACL: cfg.AllowIfNoACL}
	for _, p := range cfg.SuperUsers {
		a.super[p] = true
	}
	a.set.Store(&index{})
	return a
}

// Set replaces every binding the authorizer knows with bs.
func (a *Authorizer) Set(bs []Binding) {
	ix := index{}
	for _, b := range bs {
		t := ix[b.ResourceType]
		if t == nil {
			t = &typeIndex{literal: map[string][]Binding{}}
			ix[b.ResourceType] = t
		}
		if b.PatternType == Prefixed {
			t.prefixed = append(t.prefixed, b)
		} else {
			t.literal[b.Name] = append(t.literal[b.Name], b)
		}
	}
	a.set.Store(&ix)
}

// IsSuperUser reports whether principal is one of the super users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.super[principal] }

// Authorize reports whether principal, connected from host (an IP address), may perform op
// on the resource of type rt named name.
func (a *Authorizer) Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if a.super[principal] {
		return true
	}
	t := (*a.set.Load())[rt]
	if t == nil {
		return a.allowIfNoACL
	}
	found, allowed := false, false
	// check weighs one binding covering the resource; false means it denies.
	check := func(b *Binding) bool {
		found = true
		if !principalMatches(b.Principal, principal) || (b.Host != WildcardHost && b.Host != host) {
			return true
		}
		if b.Permission == Deny {
			return b.Operation != All && b.Operation != op
		}
		if implies(b.Operation, op) {
			allowed = true
		}
		return true
	}
	for _, bs := range [2][]Binding{t.literal[name], t.literal[WildcardName]} {
		for i := range bs {
			if !check(&bs[i]) {
				return false
			}
		}
	}
	for i := range t.prefixed {
		if strings.HasPrefix(name, t.prefixed[i].Name) && !check(&t.prefixed[i]) {
			return false
		}
	}
	if !found {
		return a.allowIfNoACL
	}
	return allowed
}

// AuthorizeAny reports whether principal may perform op on some resource of type rt: an
// ALLOW binding for the operation exists (on any name) and no DENY binding for it covers
// every name (a literal "*" or an empty prefix). Kafka asks this of InitProducerId without
// a transactional id (WRITE on any topic) and of CreateTopics (KIP-290's authorizeByResourceType).
func (a *Authorizer) AuthorizeAny(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	if a.super[principal] {
		return true
	}
	t := (*a.set.Load())[rt]
	if t == nil {
		return a.allowIfNoACL
	}
	applies := func(b Binding) bool {
		return principalMatches(b.Principal, principal) && (b.Host == WildcardHost || b.Host == host)
	}
	var all []Binding
	for _, bs := range t.literal {
		all = append(all, bs...)
	}
	all = append(all, t.prefixed...)
	for _, b := range all {
		if b.Permission == Deny && applies(b) && (b.Operation == All || b.Operation == op) &&
			((b.PatternType == Literal && b.Name == WildcardName) || (b.PatternType == Prefixed && b.Name == "")) {
			return false
		}
	}
	for _, b := range all {
		if b.Permission == Allow && applies(b) && implies(b.Operation, op) {
			return true
		}
	}
	return false
}

func principalMatches(acl, principal string) bool {
	return acl == principal || acl == "User:*"
}

// implies reports whether an ALLOW of granted allows op (Kafka's implied operations).
func implies(granted, op kmsg.ACLOperation) bool {
	switch {
	case granted == All || granted == op:
		return true
	case op == Describe:
		return granted == Read || granted == Write || granted == Delete || granted == Alter
	case op == DescribeConfigs:
		return granted == AlterConfigs
	}
	return false
}
