package quota

import (
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/jvm"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// configs runs Apache Kafka's kafka-configs against addr and returns its output and
// whether it exited 0.
func configs(t *testing.T, addr string, args ...string) (string, bool) {
	t.Helper()
	cmd := jvm.KafkaCommand(t, "kafka-configs", append([]string{"--bootstrap-server", addr}, args...)...)
	out, errOut := jvm.Run(t, cmd, 2*time.Minute)
	return out + errOut, cmd.ProcessState != nil && cmd.ProcessState.Success()
}

func configsOK(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, ok := configs(t, addr, args...)
	if !ok {
		t.Fatalf("kafka-configs %s failed:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// TestKafkaConfigsQuotas: kafka-configs sets quotas of users, client ids, both, and the
// defaults (AlterClientQuotas), byte rates and request_percentage, describes them
// (DescribeClientQuotas), deletes one, and a quota KafScale does not enforce is refused
// with a message saying so.
func TestKafkaConfigsQuotas(t *testing.T) {
	p := testbroker.Start(t)
	alice := []string{"--entity-type", "users", "--entity-name", "alice"}
	app := []string{"--entity-type", "clients", "--entity-name", "app"}
	aliceApp := append(append([]string{}, alice...), app...)
	for _, c := range []struct {
		entity []string
		config string
		done   string
	}{
		{alice, "producer_byte_rate=1024,consumer_byte_rate=2048,request_percentage=25", "Completed updating config for user alice."},
		{app, "producer_byte_rate=4096,request_percentage=0.5", "Completed updating config for client app."},
		{aliceApp, "producer_byte_rate=512", "Completed updating config for user alice."},
		{[]string{"--entity-type", "users", "--entity-default"}, "consumer_byte_rate=100", "Completed updating default config for users in the cluster."},
	} {
		out := configsOK(t, p.Addr, append(c.entity, "--alter", "--add-config", c.config)...)
		if !strings.Contains(out, c.done) {
			t.Errorf("kafka-configs %v --alter printed %q, want %q", c.entity, out, c.done)
		}
	}
	for _, c := range []struct {
		entity []string
		want   []string
	}{
		{alice, []string{"user-principal 'alice'", "consumer_byte_rate=2048.0", "producer_byte_rate=1024.0", "request_percentage=25.0"}},
		{app, []string{"client-id 'app'", "producer_byte_rate=4096.0", "request_percentage=0.5"}},
		{aliceApp, []string{"user-principal 'alice', client-id 'app'", "producer_byte_rate=512.0"}},
		{[]string{"--entity-type", "users", "--entity-default"}, []string{"the default user-principal", "consumer_byte_rate=100.0"}},
	} {
		out := configsOK(t, p.Addr, append(c.entity, "--describe")...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("kafka-configs %v --describe printed:\n%s\nwant %q in it", c.entity, out, w)
			}
		}
	}

	configsOK(t, p.Addr, append(alice, "--alter", "--delete-config", "producer_byte_rate")...)
	if out := configsOK(t, p.Addr, append(alice, "--describe")...); strings.Contains(out, "producer_byte_rate") || !strings.Contains(out, "consumer_byte_rate=2048.0") {
		t.Errorf("after deleting alice's producer_byte_rate, --describe printed:\n%s", out)
	}

	configsOK(t, p.Addr, append(app, "--alter", "--delete-config", "request_percentage")...)
	if out := configsOK(t, p.Addr, append(app, "--describe")...); strings.Contains(out, "request_percentage") || !strings.Contains(out, "producer_byte_rate=4096.0") {
		t.Errorf("after deleting app's request_percentage, --describe printed:\n%s", out)
	}

	out, ok := configs(t, p.Addr, append(app, "--alter", "--add-config", "controller_mutation_rate=50")...)
	if ok || !strings.Contains(out, "controller_mutation_rate is not enforced by KafScale") {
		t.Errorf("controller_mutation_rate: exit ok=%v, output:\n%s\nwant a failure saying it is not enforced", ok, out)
	}
}
