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
	int16(kmsg.CreateACLs):       {acl.Cluster: acl.Alter},
	int16(kmsg.DeleteACLs):       {acl.Cluster: acl.Alter},
	int16(kmsg.DescribeACLs):     {acl.Cluster: acl.Describe},
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
	return c.mayDo(rules[c.hdr.APIKey].op(c.hdr.APIKey, rt), rt, name)
}

// mayDo reports whether the request's principal may perform op on the resource; for the
// few APIs whose needs depend on the request (auto-creation in Metadata, for one).
func (c *call) mayDo(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if c.authz == nil {
		return true
	}
	if c.authz.Authorize(c.req.Conn.Principal(), hostOf(c.req.Conn.RemoteAddr()), op, rt, name) {
		return true
	}
	authzDenied.Inc()
	authzDeniedLog.Log(c.log, slog.LevelInfo, "request denied by the authorizer", "principal", c.req.Conn.Principal(),
		"remote", c.req.Conn.RemoteAddr().String(), "api", kmsg.NameForKey(c.hdr.APIKey), "operation", op.String(),
		"resource_type", rt.String(), "resource", name)
	return false
}

func (r rule) op(api int16, rt kmsg.ACLResourceType) kmsg.ACLOperation {
	op, ok := r[rt]
	if !ok {
		panic(fmt.Sprintf("BUG: authorize.go has no rule for %s on a %s", kmsg.NameForKey(api), rt))
	}
	return op
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
