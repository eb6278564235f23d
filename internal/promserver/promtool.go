package promserver

import (
	"bytes"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// toleratedLints are promtool lint findings a broker's scrape has on purpose:
// VictoriaMetrics/metrics writes no HELP lines, and issue 14 keeps the seed's _ms
// histograms (kafscale_s3_upload_duration_ms...) for existing dashboards.
var toleratedLints = []string{" no help text", " metric names should not contain abbreviated units"}

// CheckMetrics runs `promtool check metrics` (Debian's prometheus package, installed by
// scripts/test-deps.sh) on a scrape. It fails on a parse error (exit 1) and on any lint
// finding but the tolerated ones (exit 3 lists them).
func CheckMetrics(t testing.TB, scrape string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus); run scripts/test-deps.sh to install it")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	if err == nil {
		return
	}
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	var bad []string
	for line := range strings.Lines(out.String()) {
		line = strings.TrimSpace(line)
		if line != "" && !slices.ContainsFunc(toleratedLints, func(s string) bool { return strings.HasSuffix(line, s) }) {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		t.Errorf("promtool check metrics found:\n%s", strings.Join(bad, "\n"))
	}
}
