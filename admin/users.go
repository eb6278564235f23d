package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ScramMechanisms are the SCRAM mechanisms, by the names SaslHandshake uses.
var ScramMechanisms = map[string]kadm.ScramMechanism{
	"SCRAM-SHA-256": kadm.ScramSha256,
	"SCRAM-SHA-512": kadm.ScramSha512,
}

// UserCredential is one SCRAM credential of a user (never its salt or keys).
type UserCredential struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

// UpsertUser creates or replaces user's credential for mechanism (AlterUserScramCredentials;
// the password is salted here, only the salted password is sent).
func (c *Client) UpsertUser(ctx context.Context, user, mechanism, password string, iterations int32) error {
	m, ok := ScramMechanisms[mechanism]
	if !ok {
		return fmt.Errorf("unknown SCRAM mechanism %q (want SCRAM-SHA-256 or SCRAM-SHA-512)", mechanism)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	res, err := c.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: m, Iterations: iterations, Password: password}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("cannot set the %s credential of %s: %w", mechanism, user, err)
	}
	return nil
}

// DeleteUser deletes user's credentials for mechanisms, or all of them when none is named.
func (c *Client) DeleteUser(ctx context.Context, user string, mechanisms ...string) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if len(mechanisms) == 0 {
		creds, err := c.ListUsers(ctx, user)
		if err != nil {
			return err
		}
		for _, cr := range creds {
			mechanisms = append(mechanisms, cr.Mechanism)
		}
	}
	var del []kadm.DeleteSCRAM
	for _, name := range mechanisms {
		m, ok := ScramMechanisms[name]
		if !ok {
			return fmt.Errorf("unknown SCRAM mechanism %q (want SCRAM-SHA-256 or SCRAM-SHA-512)", name)
		}
		del = append(del, kadm.DeleteSCRAM{User: user, Mechanism: m})
	}
	res, err := c.adm.AlterUserSCRAMs(ctx, del, nil)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("cannot delete the credentials %v of %s: %w", mechanisms, user, err)
	}
	return nil
}

// ListUsers returns the SCRAM credentials of users, or of every user when none is named,
// sorted by user then mechanism. A named user without credentials is an error.
func (c *Client) ListUsers(ctx context.Context, users ...string) ([]UserCredential, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	res, err := c.adm.DescribeUserSCRAMs(ctx, users...)
	if err != nil {
		return nil, fmt.Errorf("cannot describe SCRAM users: %w", err)
	}
	var out []UserCredential
	var errs []error
	for _, d := range res.Sorted() {
		if d.Err != nil {
			if errors.Is(d.Err, kerr.ResourceNotFound) {
				errs = append(errs, fmt.Errorf("user %s has no SCRAM credential", d.User))
			} else {
				errs = append(errs, fmt.Errorf("cannot describe user %s: %w (%s)", d.User, d.Err, d.ErrMessage))
			}
			continue
		}
		for _, ci := range d.CredInfos {
			out = append(out, UserCredential{User: d.User, Mechanism: ci.Mechanism.String(), Iterations: ci.Iterations})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Mechanism < out[j].Mechanism
	})
	return out, errors.Join(errs...)
}
