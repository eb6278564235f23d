package broker

// Authorization (--authorizer, docs/security.md "ACLs"): what each API needs is written
// once, in rules below; handlers ask c.may(resource type, name) for each resource a request
// names and answer a refusal with the API's error (TOPIC_AUTHORIZATION_FAILED and so on),
// as Kafka's KafkaApis does. An API without a rule is not served while the authorizer is on
// (Serve closes the connection), so an API added later cannot bypass authorization.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/ratelog"
)

// aclRequestTimeout bounds the etcd work of one ACL request.
const aclRequestTimeout = 10 * time.Second

// rule is what one API needs: an operation per resource type it names.
type rule map[kmsg.ACLResourceType]kmsg.ACLOperation

// rules are the operations each API needs, as Kafka's KafkaApis asks them. ApiVersions and
// the SASL APIs need nothing (they come before a principal is known).
var rules = map[int16]rule{
	int16(kmsg.ApiVersions):      {},
	int16(kmsg.SASLHandshake):    {},
	int16(kmsg.SASLAuthenticate): {},

	int16(kmsg.Produce): {acl.Topic: acl.Write},
	int16(kmsg.Fetch):   {acl.Topic: acl.Read},
	// Metadata: DESCRIBE on each topic (a listing of every topic leaves out the others);
	// auto-creation needs CREATE on the cluster or the topic (mayCreateTopic).
	int16(kmsg.Metadata):             {acl.Topic: acl.Describe},
	int16(kmsg.ListOffsets):          {acl.Topic: acl.Describe},
	int16(kmsg.OffsetForLeaderEpoch): {acl.Topic: acl.Describe},
	int16(kmsg.DescribeProducers):    {acl.Topic: acl.Read},
	// InitProducerId: IDEMPOTENT_WRITE on the cluster or WRITE on any topic
	// (mayWriteIdempotently); a transactional id is refused (no transactions yet).
	int16(kmsg.InitProducerID): {acl.Cluster: acl.IdempotentWrite},

	int16(kmsg.FindCoordinator):        {acl.Group: acl.Describe, acl.TransactionalID: acl.Describe},
	int16(kmsg.JoinGroup):              {acl.Group: acl.Read},
	int16(kmsg.SyncGroup):              {acl.Group: acl.Read},
	int16(kmsg.Heartbeat):              {acl.Group: acl.Read},
	int16(kmsg.LeaveGroup):             {acl.Group: acl.Read},
	int16(kmsg.ConsumerGroupHeartbeat): {acl.Group: acl.Read, acl.Topic: acl.Describe},
	int16(kmsg.OffsetCommit):           {acl.Group: acl.Read, acl.Topic: acl.Read},
	int16(kmsg.OffsetFetch):            {acl.Group: acl.Describe, acl.Topic: acl.Describe},
	int16(kmsg.OffsetDelete):           {acl.Group: acl.Delete, acl.Topic: acl.Read},
	int16(kmsg.DescribeGroups):         {acl.Group: acl.Describe},
	int16(kmsg.ConsumerGroupDescribe):  {acl.Group: acl.Describe},
	// ListGroups: DESCRIBE on the cluster lists every group, else the groups the principal
	// may describe.
	int16(kmsg.ListGroups):   {acl.Cluster: acl.Describe, acl.Group: acl.Describe},
	int16(kmsg.DeleteGroups): {acl.Group: acl.Delete},

	// CreateTopics: CREATE on the cluster or the topic (mayCreateTopic).
	int16(kmsg.CreateTopics):     {acl.Cluster: acl.Create, acl.Topic: acl.Create},
	int16(kmsg.DeleteTopics):     {acl.Topic: acl.Delete},
	int16(kmsg.CreatePartitions): {acl.Topic: acl.Alter},
	int16(kmsg.DeleteRecords):    {acl.Topic: acl.Delete},
	// Configs: a topic's need the topic's operation, a broker's the cluster's.
	int16(kmsg.DescribeConfigs):         {acl.Topic: acl.DescribeConfigs, acl.Cluster: acl.DescribeConfigs},
	int16(kmsg.AlterConfigs):            {acl.Topic: acl.AlterConfigs, acl.Cluster: acl.AlterConfigs},
	int16(kmsg.IncrementalAlterConfigs): {acl.Topic: acl.AlterConfigs, acl.Cluster: acl.AlterConfigs},

	int16(kmsg.CreateACLs):                   {acl.Cluster: acl.Alter},
	int16(kmsg.DeleteACLs):                   {acl.Cluster: acl.Alter},
	int16(kmsg.DescribeACLs):                 {acl.Cluster: acl.Describe},
	int16(kmsg.AlterUserSCRAMCredentials):    {acl.Cluster: acl.Alter},
	int16(kmsg.DescribeUserSCRAMCredentials): {acl.Cluster: acl.Describe},
	// DescribeCluster: nothing (as Kafka); its authorized-operations field asks DESCRIBE.
	int16(kmsg.DescribeCluster):            {},
	int16(kmsg.ElectLeaders):               {acl.Cluster: acl.Alter},
	int16(kmsg.ListPartitionReassignments): {acl.Cluster: acl.Describe},
	int16(kmsg.DescribeLogDirs):            {acl.Cluster: acl.Describe},
	// DescribeTopicPartitions: a listing of every topic leaves out the others.
	int16(kmsg.DescribeTopicPartitions): {acl.Topic: acl.Describe},
	// Client quotas (quotas.go): Kafka asks for the cluster's configs.
	int16(kmsg.DescribeClientQuotas): {acl.Cluster: acl.DescribeConfigs},
	int16(kmsg.AlterClientQuotas):    {acl.Cluster: acl.AlterConfigs},
}

var (
	authzDenied = metrics.NewCounter(`kafscale_authorizer_denied_total`)
	// authzDeniedLog bounds the log lines of refusals: a client retrying a denied request
	// must not flood the log.
	authzDeniedLog = ratelog.New("authorizer_denied", 10, time.Minute)
)

// may reports whether the request's principal may do what its API needs on the resource of
// type rt named name (always, without an authorizer).
func (c *call) may(rt kmsg.ACLResourceType, name string) bool {
	if c.authz == nil {
		return true
	}
	op, ok := rules[c.hdr.APIKey][rt]
	if !ok {
		// A handler asks about a resource type its API's rule does not list: refused (the
		// authorizer fails closed) and logged, never a crash.
		c.log.Error("BUG: authorize.go has no rule for this API on this resource type; refused",
			"api", kmsg.NameForKey(c.hdr.APIKey), "resource_type", rt.String())
		return false
	}
	return c.mayDo(op, rt, name)
}

// mayDo reports whether the request's principal may perform op on the resource, and logs
// a refusal; for the few APIs whose needs depend on the request (auto-creation in
// Metadata, for one).
func (c *call) mayDo(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if c.allows(op, rt, name) {
		return true
	}
	authzDenied.Inc()
	authzDeniedLog.Log(c.log, slog.LevelInfo, "request denied by the authorizer", "principal", c.req.Conn.Principal(),
		"remote", c.req.Conn.RemoteAddr().String(), "api", kmsg.NameForKey(c.hdr.APIKey), "operation", op.String(),
		"resource_type", rt.String(), "resource", name)
	return false
}

// allows reports whether the request's principal may perform op on the resource, without
// logging a refusal: for filtering what a listing shows (Metadata of every topic).
func (c *call) allows(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	return c.authz == nil || c.authz.Authorize(c.req.Conn.Principal(), hostOf(c.req.Conn.RemoteAddr()), op, rt, name)
}

// mayCreateTopic reports whether the principal may create topic name: CREATE on the
// cluster or on the topic, as Kafka asks for CreateTopics and auto-creation.
func (c *call) mayCreateTopic(name string) bool {
	return c.allows(acl.Create, acl.Cluster, acl.ClusterName) || c.mayDo(acl.Create, acl.Topic, name)
}

// mayWriteIdempotently reports whether the principal may get a producer id without a
// transactional id: IDEMPOTENT_WRITE on the cluster, or WRITE on any topic (Kafka 3's
// KIP-679 rule).
func (c *call) mayWriteIdempotently() bool {
	if c.authz == nil || c.allows(acl.IdempotentWrite, acl.Cluster, acl.ClusterName) ||
		c.authz.AuthorizeAny(c.req.Conn.Principal(), hostOf(c.req.Conn.RemoteAddr()), acl.Write, acl.Topic) {
		return true
	}
	return c.mayDo(acl.IdempotentWrite, acl.Cluster, acl.ClusterName)
}

// configResourceError is the error of a configs request (DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs) on one resource the principal may not touch: a topic's
// TOPIC_AUTHORIZATION_FAILED, a broker's CLUSTER_AUTHORIZATION_FAILED (broker configs are
// the cluster resource's, as in Kafka); nil if it may, or for a type the handler refuses.
func (c *call) configResourceError(typ kmsg.ConfigResourceType, name string) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if !c.may(acl.Topic, name) {
			return newKafkaError(kerr.TopicAuthorizationFailed, "Authorization failed.")
		}
	case kmsg.ConfigResourceTypeBroker:
		if !c.may(acl.Cluster, acl.ClusterName) {
			return newKafkaError(kerr.ClusterAuthorizationFailed, "Authorization failed.")
		}
	}
	return nil
}

// authorizedOps is an authorized-operations field (Metadata, DescribeCluster,
// DescribeGroups, ...): of the operations supported (a bit set, 1<<operation), those the
// principal may perform on the resource, as Kafka's AuthHelper.authorizedOperations;
// every supported one without an authorizer.
func (c *call) authorizedOps(rt kmsg.ACLResourceType, name string, supported int32) int32 {
	if c.authz == nil {
		return supported
	}
	var out int32
	for op := kmsg.ACLOperation(0); op < 31; op++ {
		if supported&(1<<op) != 0 && c.allows(op, rt, name) {
			out |= 1 << op
		}
	}
	return out
}

// aclAPIError is the error of an ACL API's request: SECURITY_DISABLED without an
// authorizer (as Kafka), CLUSTER_AUTHORIZATION_FAILED if the principal may not.
func (b *Broker) aclAPIError(c *call) error {
	if b.authz == nil {
		return newKafkaError(kerr.SecurityDisabled, "No Authorizer is configured on the broker")
	}
	if !c.may(acl.Cluster, acl.ClusterName) {
		return newKafkaError(kerr.ClusterAuthorizationFailed, "Request parameters do not satisfy the configured policy")
	}
	return nil
}

// servedUnderAuthorizer reports whether api may be served while the authorizer is on: only
// APIs with a rule check what they touch.
func servedUnderAuthorizer(api int16) bool {
	_, ok := rules[api]
	return ok
}

// hostOf returns the client address as ACLs name hosts (an IP address).
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// loadACLs gives the authorizer the stored ACLs before the broker serves, so that no
// request is decided on an empty set.
func (b *Broker) loadACLs(ctx context.Context) error {
	all, _, err := b.meta.ListACLs(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the ACLs: %w", err)
	}
	b.authz.Set(all)
	return nil
}

// watchACLs keeps the authorizer's set equal to etcd's until the broker closes.
func (b *Broker) watchACLs() {
	for all := range b.meta.WatchACLs(b.ctx) {
		b.authz.Set(all)
		b.log.Debug("ACLs updated", "count", len(all))
	}
}
