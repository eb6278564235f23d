package main

import (
	"io"
	"strings"
	"testing"
)

// TestTopicsExitCodes guards the exit statuses scripts rely on: 2 for a bad invocation
// (nothing sent), 1 for an operation that failed (here: no cluster at the address).
func TestTopicsExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frob"}, 2, `unknown verb "frob"`},
		{[]string{"create", "-b", "127.0.0.1:1"}, 2, "create: missing NAME"},
		{[]string{"create", "t", "--partitions", "1", "--config", "x", "-b", "127.0.0.1:1"}, 2, "want KEY=VALUE"},
		{[]string{"create", "t", "--partitions", "1", "-b", "127.0.0.1:1", "--timeout", "2s"}, 1, "create t: cannot send CreateTopics"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := runTopicsTo(io.Discard, tt.args)
			if err == nil || exitCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (exit %d), want exit %d and %q", err, exitCode(err), tt.code, tt.want)
			}
		})
	}
}
