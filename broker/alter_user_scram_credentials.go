package broker

// AlterUserScramCredentials: version 0 (KIP-554). Creates, replaces and deletes SCRAM
// credentials, stored in etcd under scram/<mechanism>/<user> as salt, StoredKey, ServerKey
// and iterations (the client sends the salted password, never the password; the broker
// keeps only what RFC 5802 needs). Checks as Kafka's ScramControlManager: an empty user
// name, too few (< 4096) or too many (> 16384) iterations, an empty salt or salted password
// get UNACCEPTABLE_CREDENTIAL; an unknown mechanism UNSUPPORTED_SASL_MECHANISM; a user and
// mechanism named twice DUPLICATE_RESOURCE; the deletion of a credential that does not
// exist RESOURCE_NOT_FOUND. A user's changes are applied together (one etcd transaction)
// or not at all; each user gets one result. Every broker sees the change at once (logins
// read etcd). No authorizer is built yet, so any client that reaches the broker (and
// authenticated, on a SASL listener) may alter credentials.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/acl"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/sasl"
)

func init() {
	register(kmsg.AlterUserSCRAMCredentials, 0, 0, (*Broker).handleAlterUserSCRAMCredentials)
}

// scramAlterTimeout bounds the etcd writes of one request.
const scramAlterTimeout = 10 * time.Second

// userScramChanges are one user's changes in an AlterUserScramCredentials request.
type userScramChanges struct {
	upserts map[string]*metapb.ScramCredential
	deletes []string
	err     error // the first problem found: nothing of this user is applied
	seen    map[string]bool
}

func (b *Broker) handleAlterUserSCRAMCredentials(c *call) {
	req := c.kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var order []string
	users := map[string]*userScramChanges{}
	get := func(name string) *userScramChanges {
		u, ok := users[name]
		if !ok {
			u = &userScramChanges{upserts: map[string]*metapb.ScramCredential{}, seen: map[string]bool{}}
			users[name] = u
			order = append(order, name)
		}
		return u
	}
	// check records the first problem of a user's change; it returns the mechanism's name
	// if the change may go ahead.
	check := func(u *userScramChanges, name string, mech int8) (string, bool) {
		m, known := scramMechanisms[mech]
		switch {
		case u.err != nil:
		case name == "":
			u.err = newKafkaError(kerr.UnacceptableCredential, "Username must not be empty")
		case !known:
			u.err = newKafkaError(kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
		case u.seen[m]:
			u.err = newKafkaError(kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
		default:
			u.seen[m] = true
			return m, true
		}
		return "", false
	}
	for _, d := range req.Deletions {
		u := get(d.Name)
		if m, ok := check(u, d.Name, d.Mechanism); ok {
			u.deletes = append(u.deletes, m)
		}
	}
	for _, up := range req.Upsertions {
		u := get(up.Name)
		m, ok := check(u, up.Name, up.Mechanism)
		if !ok {
			continue
		}
		switch {
		case up.Iterations < sasl.ScramMinIterations:
			u.err = newKafkaError(kerr.UnacceptableCredential, "Too few iterations")
		case up.Iterations > sasl.ScramMaxIterations:
			u.err = newKafkaError(kerr.UnacceptableCredential, "Too many iterations")
		case len(up.Salt) == 0:
			u.err = newKafkaError(kerr.UnacceptableCredential, "Salt must not be empty")
		case len(up.SaltedPassword) == 0:
			u.err = newKafkaError(kerr.UnacceptableCredential, "Salted password must not be empty")
		}
		if u.err != nil {
			continue
		}
		cred, err := sasl.NewScramCredential(m, up.Salt, up.SaltedPassword, int(up.Iterations))
		if err != nil {
			u.err = newKafkaError(kerr.UnsupportedSaslMechanism, "%v", err)
			continue
		}
		u.upserts[m] = &metapb.ScramCredential{Salt: cred.Salt, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: up.Iterations}
	}
	ctx, cancel := context.WithTimeout(b.requests, scramAlterTimeout)
	defer cancel()
	allowed := c.may(acl.Cluster, acl.ClusterName)
	for _, name := range order {
		u := users[name]
		err := u.err
		if !allowed {
			err = newKafkaError(kerr.ClusterAuthorizationFailed, "Authorization failed.")
		}
		if err == nil {
			err = b.meta.AlterScramCredentials(ctx, name, u.upserts, u.deletes)
			if errors.Is(err, meta.ErrScramCredentialNotFound) {
				err = newKafkaError(kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
			} else if err != nil {
				err = newKafkaError(kerr.UnknownServerError, "cannot store the credentials: %v", err)
			} else {
				c.adminAction("altered SCRAM credentials", "user", name, "upserted", mapKeys(u.upserts), "deleted", u.deletes)
			}
		}
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User, r.ErrorCode, r.ErrorMessage = name, errCodeOf(err), errText(err)
		resp.Results = append(resp.Results, r)
	}
	c.respond(resp)
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
