package main

import (
	"strings"
	"testing"
)

// TestAuthorizerFlagsRefusedWithoutEffect: a setting without --authorizer would do
// nothing, and a super user not of the form Type:name names nobody; both are refused
// with the flag's name.
func TestAuthorizerFlagsRefusedWithoutEffect(t *testing.T) {
	cases := []struct {
		name string
		cfg  authorizerConfig
		want string // "" for no error
	}{
		{"off", authorizerConfig{}, ""},
		{"on with super users", authorizerConfig{Enabled: true, SuperUsers: "User:admin; User:ops"}, ""},
		{"super users without the authorizer", authorizerConfig{SuperUsers: "User:admin"}, "--super-users needs --authorizer"},
		{"allow-everyone without the authorizer", authorizerConfig{AllowIfNoACL: true}, "--allow-everyone-if-no-acl-found needs --authorizer"},
		{"super user without a type", authorizerConfig{Enabled: true, SuperUsers: "admin"}, "--super-users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.finish()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	cfg := authorizerConfig{Enabled: true, SuperUsers: "User:admin; User:ops"}
	if err := cfg.finish(); err != nil {
		t.Fatal(err)
	}
	a := cfg.authorizer()
	if !a.IsSuperUser("User:admin") || !a.IsSuperUser("User:ops") || a.IsSuperUser("User:eve") {
		t.Fatalf("super users %q not parsed into admin and ops", cfg.SuperUsers)
	}
}
