package sasl

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/jvm"
)

// tool runs one of Apache Kafka's tools and returns its output, failing the test if it fails.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := jvm.KafkaCommand(t, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", name, err)
	}
	timer := time.AfterFunc(2*timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
