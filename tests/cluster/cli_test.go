package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/kafscale/kafscale/admin"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestClusterDescribe: `kafscale cluster describe` shows every live broker, the controller
// and the partitions each leads, as a user troubleshooting the cluster needs (issue 12).
func TestClusterDescribe(t *testing.T) {
	c := startCluster(t, 3)
	kafkatest.CreateTopic(t, c.brokers[1].Addr, "described", 9)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var d admin.ClusterDescription
	kafkatest.WaitUntil(t, 30*time.Second, "a description with every partition led", func() error {
		cmd := exec.CommandContext(ctx, testbroker.Binary(t), "cluster", "describe", "-b", c.brokers[2].Addr, "--output", "json")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return err
		}
		d = admin.ClusterDescription{}
		if err := json.Unmarshal(out.Bytes(), &d); err != nil {
			return err
		}
		if d.Partitions != 9 || d.Leaderless != 0 {
			return fmt.Errorf("%d partitions, %d without a leader", d.Partitions, d.Leaderless)
		}
		return nil
	})
	if len(d.Brokers) != 3 {
		t.Fatalf("described %d brokers, want 3: %+v", len(d.Brokers), d)
	}
	sum, controllers := 0, 0
	for _, b := range d.Brokers {
		sum += b.Partitions
		if b.Controller {
			controllers++
			if b.ID != d.Controller {
				t.Errorf("broker %d is marked controller, but the controller is %d", b.ID, d.Controller)
			}
		}
		if b.Partitions != 3 {
			t.Errorf("broker %d leads %d of 9 partitions, want 3 (placement balances)", b.ID, b.Partitions)
		}
	}
	if sum != 9 || controllers != 1 {
		t.Errorf("partitions led sum to %d (want 9), %d controllers (want 1): %+v", sum, controllers, d)
	}
	out, err := exec.CommandContext(ctx, testbroker.Binary(t), "cluster", "describe", "-b", c.brokers[0].Addr).CombinedOutput()
	if err != nil {
		t.Fatalf("kafscale cluster describe: %v\n%s", err, out)
	}
	t.Logf("kafscale cluster describe:\n%s", out)
}
