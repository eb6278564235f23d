package kafkatest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Kcat runs Debian's kcat with args and stdin, bounded by timeout, and returns its
// combined output; a missing kcat fails the test (scripts/test-deps.sh installs it).
func Kcat(t testing.TB, timeout time.Duration, stdin string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("cannot find kcat: %v; run scripts/test-deps.sh", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
