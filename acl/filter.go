package acl

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Filter selects bindings for DescribeAcls and DeleteAcls (Kafka's AclBindingFilter): a
// nil string matches anything; ANY matches any resource type, operation or permission; the
// pattern type ANY matches literal and prefixed patterns of exactly Name, and MATCH matches
// every pattern that applies to the resource Name (the literal name, the literal "*" and
// every prefix of it).
type Filter struct {
	ResourceType kmsg.ACLResourceType
	PatternType  kmsg.ACLResourcePatternType
	Name         *string
	Principal    *string
	Host         *string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

// Validate reports a filter Kafka refuses: one holding an UNKNOWN element.
func (f Filter) Validate() error {
	if f.ResourceType == kmsg.ACLResourceTypeUnknown || f.PatternType == kmsg.ACLResourcePatternTypeUnknown ||
		f.Operation == kmsg.ACLOperationUnknown || f.Permission == kmsg.ACLPermissionTypeUnknown {
		return errUnknownElement
	}
	return nil
}

var errUnknownElement = errorString("the filter holds an UNKNOWN element")

type errorString string

func (e errorString) Error() string { return string(e) }

// Matches reports whether f selects b.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != b.ResourceType {
		return false
	}
	if !f.matchesPattern(b) {
		return false
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != kmsg.ACLOperationAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == b.Permission
}

func (f Filter) matchesPattern(b Binding) bool {
	switch f.PatternType {
	case kmsg.ACLResourcePatternTypeAny:
		return f.Name == nil || *f.Name == b.Name
	case kmsg.ACLResourcePatternTypeMatch:
		if f.Name == nil {
			return true
		}
		return patternApplies(b, *f.Name)
	default:
		return f.PatternType == b.PatternType && (f.Name == nil || *f.Name == b.Name)
	}
}

// patternApplies reports whether b's resource pattern covers the resource named name.
func patternApplies(b Binding, name string) bool {
	switch b.PatternType {
	case Literal:
		return b.Name == name || b.Name == WildcardName
	case Prefixed:
		return strings.HasPrefix(name, b.Name)
	}
	return false
}
