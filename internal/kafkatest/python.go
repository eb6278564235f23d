package kafkatest

import (
	"os"
	"testing"
)

// debianPython is Debian's interpreter, the one that sees python3-confluent-kafka; the
// python3 first on PATH may be another.
const debianPython = "/usr/bin/python3"

// DebianPython returns the path of Debian's Python, failing t (never skipping) when it is
// missing.
func DebianPython(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("cannot find %s: %v; run scripts/test-deps.sh to install the test dependencies", debianPython, err)
	}
	return debianPython
}
