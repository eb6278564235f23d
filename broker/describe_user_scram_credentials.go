package broker

// DescribeUserScramCredentials: version 0 (KIP-554). Lists the SCRAM mechanisms and
// iterations of the named users, or of every user with a credential when none is named
// (never salts or keys). A user without credentials gets RESOURCE_NOT_FOUND, a user named
// twice DUPLICATE_RESOURCE, as from Kafka. etcd unreachable: UNKNOWN_SERVER_ERROR for the
// whole request.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
)

func init() {
	register(kmsg.DescribeUserSCRAMCredentials, 0, 0, (*Broker).handleDescribeUserSCRAMCredentials)
}

func (b *Broker) handleDescribeUserSCRAMCredentials(c *call) {
	req := c.kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !c.may(acl.Cluster, acl.ClusterName) {
		err := newKafkaError(kerr.ClusterAuthorizationFailed, "Authorization failed.")
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	ctx, cancel := context.WithTimeout(b.requests, scramAlterTimeout)
	defer cancel()
	entries, err := b.meta.ListScramCredentials(ctx)
	if err != nil {
		err = newKafkaError(kerr.UnknownServerError, "cannot read the credentials: %v", err)
		resp.ErrorCode, resp.ErrorMessage = errCodeOf(err), errText(err)
		c.respond(resp)
		return
	}
	byUser := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	var all []string
	for _, e := range entries {
		if _, ok := byUser[e.User]; !ok {
			all = append(all, e.User)
		}
		ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
		ci.Mechanism, ci.Iterations = scramMechanismCode(e.Mechanism), e.Iterations
		byUser[e.User] = append(byUser[e.User], ci)
	}
	names := all
	if len(req.Users) > 0 {
		names = names[:0:0]
		for _, u := range req.Users {
			names = append(names, u.Name)
		}
	}
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	done := map[string]bool{}
	for _, n := range names {
		if done[n] {
			continue
		}
		done[n] = true
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = n
		var err error
		switch {
		case count[n] > 1:
			err = newKafkaError(kerr.DuplicateResource, "Cannot describe SCRAM credentials for the same user twice in a single request")
		case len(byUser[n]) == 0:
			err = newKafkaError(kerr.ResourceNotFound, "Attempt to describe nonexistent user")
		default:
			r.CredentialInfos = byUser[n]
		}
		r.ErrorCode, r.ErrorMessage = errCodeOf(err), errText(err)
		resp.Results = append(resp.Results, r)
	}
	c.respond(resp)
}
