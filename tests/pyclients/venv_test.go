package pyclients

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// installHint ends every failure about the venv: these tests fail, never skip, when the
// machine lacks what scripts/test-deps.sh installs.
const installHint = "run scripts/test-deps.sh to install the test dependencies"

// packageDir returns this package's directory, which holds requirements.txt and python/.
func packageDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("BUG: cannot find the source file of package pyclients")
	}
	return filepath.Dir(file)
}

// venvDir is where scripts/test-deps.sh makes the venv: $XDG_CACHE_HOME/kafscale, or
// $HOME/.cache/kafscale, plus pyclients-venv.
func venvDir(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("cannot find the cache folder: %v; %s", err, installHint)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "kafscale", "pyclients-venv")
}

// venvPython returns the venv's python after checking that the venv was made from this
// requirements.txt with the python3 on PATH: scripts/test-deps.sh writes the same stamp,
// "<sha256 of requirements.txt> <python version>", after pip succeeds.
func venvPython(t *testing.T) string {
	t.Helper()
	dir := venvDir(t)
	python := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("cannot find the Python clients' venv: %v; %s", err, installHint)
	}
	stamp, err := os.ReadFile(filepath.Join(dir, "requirements.stamp"))
	if err != nil {
		t.Fatalf("the Python clients' venv %s is unfinished (%v); %s", dir, err, installHint)
	}
	reqs, err := os.ReadFile(filepath.Join(packageDir(t), "requirements.txt"))
	if err != nil {
		t.Fatalf("cannot read requirements.txt: %v", err)
	}
	sum := sha256.Sum256(reqs)
	hash, _, _ := strings.Cut(strings.TrimSpace(string(stamp)), " ")
	if hash != hex.EncodeToString(sum[:]) {
		t.Fatalf("the Python clients' venv %s was made from another requirements.txt (stamp %q); %s", dir, stamp, installHint)
	}
	if _, err := exec.LookPath(python); err != nil {
		t.Fatalf("cannot run the venv's python: %v; %s", err, installHint)
	}
	return python
}
