// Package jvm runs the Java programs of the tests (tests/jvm): it finds the dependency
// jars that scripts/test-deps.sh copied into the project's cache folder, compiles a
// program's sources with javac against them, and starts it with java.
package jvm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CacheDir is where scripts/test-deps.sh keeps what it installs:
// ${XDG_CACHE_HOME:-$HOME/.cache}/kafscale.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("cannot find the cache folder: %v", err)
	}
	return filepath.Join(dir, "kafscale")
}

// Deps returns the folder of jars that scripts/test-deps.sh copied for name (such as
// "clients-4.4.0"), failing the test if it is missing.
func Deps(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(CacheDir(t), "jvm", name)
	jars, _ := filepath.Glob(filepath.Join(dir, "*.jar"))
	if len(jars) == 0 {
		t.Fatalf("no jars in %s; run scripts/test-deps.sh to install the test dependencies", dir)
	}
	return dir
}

// Tool returns the path of java or javac, failing the test if it is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("cannot find %s on PATH: %v; run scripts/test-deps.sh to install the test dependencies", name, err)
	}
	return path
}

// Compile compiles every .java file under src against the jars in deps into a folder of
// the test's and returns the class path to run them with (classes, then the jars).
func Compile(t testing.TB, src, deps string) string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".java") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no Java sources under %s: %v", src, err)
	}
	out := t.TempDir()
	cp := filepath.Join(deps, "*")
	args := append([]string{"-Xlint:all", "-Werror", "-d", out, "-cp", cp}, files...)
	var stderr bytes.Buffer
	cmd := exec.Command(Tool(t, "javac"), args...)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("javac %s: %v\n%s", src, err, stderr.String())
	}
	return out + string(os.PathListSeparator) + cp
}

// Command returns the command that runs class main on classpath with args; the client
// libraries log warnings and errors only (SLF4J simple).
func Command(t testing.TB, classpath, main string, args ...string) *exec.Cmd {
	t.Helper()
	jargs := append([]string{"-cp", classpath, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", main}, args...)
	return exec.Command(Tool(t, "java"), jargs...)
}

// Run runs cmd to its end, killing it after timeout, and returns what it printed. A
// failure to start fails the test; a non-zero exit does not (the caller reads the
// results).
func Run(t testing.TB, cmd *exec.Cmd, timeout time.Duration) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", cmd.Path, err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Errorf("%s killed after %s", strings.Join(cmd.Args, " "), timeout)
	}
	if err != nil {
		t.Logf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return out.String(), errb.String()
}

// Results parses the "PASS name: details" and "FAIL name: why" lines a test program
// prints into name -> line, in order of appearance.
func Results(stdout string) (names []string, lines map[string]string) {
	lines = make(map[string]string)
	for line := range strings.Lines(stdout) {
		line = strings.TrimSpace(line)
		for _, verdict := range []string{"PASS ", "FAIL "} {
			rest, ok := strings.CutPrefix(line, verdict)
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(rest, ":")
			if _, seen := lines[name]; !seen {
				names = append(names, name)
			}
			lines[name] = line
		}
	}
	return names, lines
}

// Check fails the test (as a subtest per scenario) for each wanted scenario that did not
// print PASS.
func Check(t *testing.T, stdout, stderr string, want ...string) {
	t.Helper()
	_, lines := Results(stdout)
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			line, ok := lines[name]
			switch {
			case !ok:
				t.Errorf("scenario %s printed no result\nstdout:\n%s\nstderr (tail):\n%s", name, stdout, tail(stderr, 8<<10))
			case strings.HasPrefix(line, "FAIL "):
				t.Errorf("%s\nstderr (tail):\n%s", line, tail(stderr, 8<<10))
			default:
				t.Log(line)
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("...%s", s[len(s)-n:])
}
