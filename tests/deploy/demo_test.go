package deploy

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoPlatformSaysWhatIsMissing guards issue 17's acceptance 5 where Docker is not:
// scripts/demo-platform-apply.sh (make demo-platform) names each missing tool and exits
// with status 3 before doing anything.
func TestDemoPlatformSaysWhatIsMissing(t *testing.T) {
	// A PATH with the shell utilities the script needs and none of docker, kind, kubectl.
	dir := t.TempDir()
	for _, tool := range []string{"bash", "dirname"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(dir, "bash"), "../../scripts/demo-platform-apply.sh")
	cmd.Env = []string{"PATH=" + dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit %v, want status 3; output:\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "missing docker kind kubectl") {
		t.Errorf("the script does not name what is missing:\n%s", out.String())
	}
}
