package main

import (
	"slices"
	"testing"

	"github.com/kafscale/kafscale/admin"
)

// TestBootstrapFlagBeatsEnvironment guards against KAFSCALE_BOOTSTRAP_SERVER overriding
// an explicit -b: the alias shares --bootstrap-server's variable, and applyEnv once saw
// --bootstrap-server as not given and set it from the environment after -b.
func TestBootstrapFlagBeatsEnvironment(t *testing.T) {
	t.Setenv("KAFSCALE_BOOTSTRAP_SERVER", "127.0.0.1:7")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-b", "127.0.0.1:1"}, []string{"127.0.0.1:1"}},
		{[]string{"--bootstrap-server", "127.0.0.1:2,127.0.0.1:3"}, []string{"127.0.0.1:2", "127.0.0.1:3"}},
		{[]string{"g1", "-b", "127.0.0.1:4"}, []string{"127.0.0.1:4"}},
		{nil, []string{"127.0.0.1:7"}},
	} {
		g := &groupsCmd{cfg: admin.DefaultConfig()}
		if _, _, err := g.parse(g.flags("describe"), tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(g.cfg.Brokers, tc.want) {
			t.Errorf("%q with KAFSCALE_BOOTSTRAP_SERVER=127.0.0.1:7: brokers %q, want %q", tc.args, g.cfg.Brokers, tc.want)
		}
	}
}
