package compat

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// installHint is what every missing outside part's failure says: these tests fail, never
// skip, when the machine lacks what scripts/test-deps.sh installs.
const installHint = "run scripts/test-deps.sh to install the test dependencies"

// lookTool returns the path of name on PATH or fails t.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("cannot find %s on PATH: %v; %s", name, err, installHint)
	}
	return p
}

// packageDir returns this package's directory, where the Python and kafkajs scripts live.
func packageDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("BUG: cannot find the source file of package compat")
	}
	return filepath.Dir(file)
}

// run runs a command bounded by ctx with stdin, and returns its standard output. It fails t
// with the command's standard error if the command fails or ctx ends first.
func run(ctx context.Context, t *testing.T, stdin []byte, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		t.Fatalf("%s %s failed: %v\nstderr:\n%s\nstdout (first 2000 bytes):\n%s",
			name, strings.Join(args, " "), err, stderr.Bytes(), clipN(stdout.Bytes(), 2000))
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", filepath.Base(name), stderr.Bytes())
	}
	return stdout.Bytes()
}

func clipN(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
