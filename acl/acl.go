// Package acl holds Kafka access control lists and decides whether a principal may perform
// an operation on a resource, with the semantics of Kafka's StandardAuthorizer: literal and
// prefixed resource patterns (a literal "*" names every resource of its type), "User:*" and
// host "*" wildcards, DENY over ALLOW, super users, operations implied by others (DESCRIBE by
// READ, WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS; ALL implies every one),
// and allow.everyone.if.no.acl.found for a resource no ACL matches.
//
// It knows nothing of storage: the broker keeps the bindings in etcd (meta/acls.go) and
// hands each new set to an Authorizer.
package acl

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's enum values (org.apache.kafka.common.resource.ResourceType, PatternType,
// acl.AclOperation, acl.AclPermissionType), named for this package's callers.
const (
	Topic           = kmsg.ACLResourceTypeTopic
	Group           = kmsg.ACLResourceTypeGroup
	Cluster         = kmsg.ACLResourceTypeCluster
	TransactionalID = kmsg.ACLResourceTypeTransactionalId

	Literal  = kmsg.ACLResourcePatternTypeLiteral
	Prefixed = kmsg.ACLResourcePatternTypePrefixed

	All             = kmsg.ACLOperationAll
	Read            = kmsg.ACLOperationRead
	Write           = kmsg.ACLOperationWrite
	Create          = kmsg.ACLOperationCreate
	Delete          = kmsg.ACLOperationDelete
	Alter           = kmsg.ACLOperationAlter
	Describe        = kmsg.ACLOperationDescribe
	ClusterAction   = kmsg.ACLOperationClusterAction
	DescribeConfigs = kmsg.ACLOperationDescribeConfigs
	AlterConfigs    = kmsg.ACLOperationAlterConfigs
	IdempotentWrite = kmsg.ACLOperationIdempotentWrite

	Allow = kmsg.ACLPermissionTypeAllow
	Deny  = kmsg.ACLPermissionTypeDeny
)

// ClusterName is the name of the one cluster resource (Kafka's "kafka-cluster").
const ClusterName = "kafka-cluster"

// WildcardName is the literal resource name that matches every resource of its type.
const WildcardName = "*"

// WildcardHost is the host that matches every client address.
const WildcardHost = "*"

// Binding is one ACL: who (Principal, from Host) is allowed or denied (Permission) to do
// Operation on the resources a pattern (ResourceType, PatternType, Name) names.
type Binding struct {
	ResourceType kmsg.ACLResourceType
	PatternType  kmsg.ACLResourcePatternType
	Name         string
	Principal    string
	Host         string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

func (b Binding) String() string {
	return fmt.Sprintf("(pattern=%s:%s:%s, principal=%s, host=%s, operation=%s, permission=%s)",
		b.ResourceType, b.PatternType, b.Name, b.Principal, b.Host, b.Operation, b.Permission)
}

// Validate reports why b cannot be stored, in Kafka's words where Kafka has them
// (AclControlManager.validateNewAcl); CreateAcls answers it as INVALID_REQUEST.
func (b Binding) Validate() error {
	switch b.ResourceType {
	case Topic, Group, Cluster, TransactionalID, kmsg.ACLResourceTypeDelegationToken, kmsg.ACLResourceTypeUser:
	default:
		return fmt.Errorf("invalid resource type %s", b.ResourceType)
	}
	switch b.PatternType {
	case Literal, Prefixed:
	default:
		return fmt.Errorf("invalid pattern type %s", b.PatternType)
	}
	if b.Operation <= kmsg.ACLOperationAny || b.Operation > kmsg.ACLOperationDescribeTokens {
		return fmt.Errorf("invalid operation %s", b.Operation)
	}
	if b.Permission != Allow && b.Permission != Deny {
		return fmt.Errorf("invalid permission type %s", b.Permission)
	}
	if b.Name == "" {
		return fmt.Errorf("resource name should not be empty")
	}
	if b.ResourceType == Cluster && b.Name != ClusterName {
		return fmt.Errorf("the only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if err := ValidatePrincipal(b.Principal); err != nil {
		return err
	}
	if b.Host == "" {
		return fmt.Errorf("host should not be empty (use %q for any host)", WildcardHost)
	}
	return nil
}

// ValidatePrincipal checks that p has Kafka's form "<type>:<name>" (KafkaPrincipal).
func ValidatePrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return fmt.Errorf("could not parse principal %q: expected the form <type>:<name>, such as User:alice", p)
	}
	return nil
}
