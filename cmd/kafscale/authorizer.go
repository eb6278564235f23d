package main

import (
	"flag"
	"fmt"

	"github.com/kafscale/kafscale/acl"
)

// authorizerConfig holds the ACL settings (docs/security.md, "ACLs").
type authorizerConfig struct {
	// Enabled turns ACL enforcement on (Kafka's authorizer.class.name set to
	// StandardAuthorizer).
	Enabled bool
	// SuperUsers is super.users: "User:admin;User:ops".
	SuperUsers string
	// AllowIfNoACL is allow.everyone.if.no.acl.found.
	AllowIfNoACL bool

	superUsers []string // parsed by finish
}

func authorizerFlags(fs *flag.FlagSet, c *authorizerConfig) {
	fs.BoolVar(&c.Enabled, "authorizer", c.Enabled, "enforce the ACLs stored in etcd (CreateAcls, kafka-acls); a request they do not allow is refused (Kafka's authorizer.class.name=StandardAuthorizer)")
	fs.StringVar(&c.SuperUsers, "super-users", c.SuperUsers, "principals the ACLs do not apply to, separated by ';', e.g. User:admin;User:ops (super.users; needs --authorizer)")
	fs.BoolVar(&c.AllowIfNoACL, "allow-everyone-if-no-acl-found", c.AllowIfNoACL, "let every principal do what no ACL of the resource speaks of (allow.everyone.if.no.acl.found; needs --authorizer)")
}

// finish checks the flags: a setting without --authorizer would have no effect, so it is
// refused.
func (c *authorizerConfig) finish() error {
	if !c.Enabled {
		if c.SuperUsers != "" {
			return fmt.Errorf("--super-users needs --authorizer (set to %q)", c.SuperUsers)
		}
		if c.AllowIfNoACL {
			return fmt.Errorf("--allow-everyone-if-no-acl-found needs --authorizer")
		}
		return nil
	}
	var err error
	c.superUsers, err = acl.ParseSuperUsers(c.SuperUsers)
	return err
}

// authorizer returns the authorizer the flags ask for, or nil.
func (c *authorizerConfig) authorizer() *acl.Authorizer {
	if !c.Enabled {
		return nil
	}
	return acl.New(acl.Config{SuperUsers: c.superUsers, AllowIfNoACL: c.AllowIfNoACL})
}
