package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// brokerVerb runs `kafscale broker <verb> --admin <admin> --output json args...` and decodes
// its answer into out (a JSON object with BrokerControl's field names).
func brokerVerb(t *testing.T, admin string, out any, verb string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbroker.Binary(t), append([]string{"broker", verb, "--admin", admin, "--output", "json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kafscale broker %s %v: %v: %s", verb, args, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("kafscale broker %s printed %q: %v", verb, stdout.String(), err)
	}
	return nil
}

// brokerStatus is BrokerControl's StatusResponse as `kafscale broker status` prints it.
type brokerStatus struct {
	BrokerID         int32   `json:"broker_id"`
	Ready            bool    `json:"ready"`
	Draining         bool    `json:"draining"`
	PartitionsLed    int32   `json:"partitions_led"`
	CoordinatorSlots int32   `json:"coordinator_slots"`
	ControllerID     int32   `json:"controller_id"`
	LiveBrokers      []int32 `json:"live_brokers"`
}

// TestDrainUnderLoad guards issue 12's acceptance 7 and the drain of acceptance 8: under
// acks=all load, `kafscale broker drain` (BrokerControl's Drain, asked of another broker)
// returns once broker 1 leads no partition and no coordinator slot; producers (1,000
// retries) fail no record; nothing new is placed on the drained broker; `undrain` gives it
// partitions again through the controller's rebalancing; every acknowledged record reads
// back and the idempotent producer stores nothing twice.
func TestDrainUnderLoad(t *testing.T) {
	c, w := startLoadedCluster(t)
	w.plain.WaitAcks(t, 300, 30*time.Second)
	w.idem.WaitAcks(t, 300, 30*time.Second)
	const victim = 1
	before, err := c.agreed(w.topic, w.partitions)
	if err != nil {
		t.Fatal(err)
	}
	var st brokerStatus
	if err := brokerVerb(t, c.brokers[victim].MetricsAddr, &st, "status"); err != nil {
		t.Fatal(err)
	}
	if st.BrokerID != victim || !st.Ready || st.Draining || int(st.PartitionsLed) != before.ledBy(victim) || len(st.LiveBrokers) != 3 {
		t.Fatalf("status of broker %d before the drain: %+v; it leads %d partitions of %s", victim, st, before.ledBy(victim), w.topic)
	}

	var unknown struct{}
	if err := brokerVerb(t, c.brokers[0].MetricsAddr, &unknown, "drain", "--broker-id", "7"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("drain of broker 7, which is not registered: %v, want a NotFound error", err)
	}

	var drained struct {
		BrokerID        int32  `json:"broker_id"`
		PartitionsMoved int32  `json:"partitions_moved"`
		SlotsMoved      int32  `json:"coordinator_slots_moved"`
		TookMs          string `json:"took_ms"` // protojson writes int64 as a string
	}
	start := time.Now()
	if err := brokerVerb(t, c.brokers[0].MetricsAddr, &drained, "drain", "--broker-id", strconv.Itoa(victim)); err != nil {
		t.Fatal(err)
	}
	t.Logf("DRAIN: broker %d drained under load (asked of broker 0): %d partitions and %d coordinator slots moved in %s ms (%s with the CLI)",
		victim, drained.PartitionsMoved, drained.SlotsMoved, drained.TookMs, time.Since(start).Round(time.Millisecond))
	if int(drained.PartitionsMoved) != before.ledBy(victim) || drained.SlotsMoved == 0 {
		t.Errorf("drain answered %+v; broker %d led %d partitions and holds coordinator slots", drained, victim, before.ledBy(victim))
	}
	// Every live broker's Metadata agrees at once (the drain returned on the state every
	// broker watches), and the drained broker says so itself.
	kafkatest.WaitUntil(t, 10*time.Second, fmt.Sprintf("every broker to agree broker %d leads nothing", victim), func() error {
		v, err := c.agreed(w.topic, w.partitions)
		if err != nil {
			return err
		}
		if n := v.ledBy(victim); n != 0 {
			return fmt.Errorf("broker %d still leads %d partitions", victim, n)
		}
		return nil
	})
	if err := brokerVerb(t, c.brokers[victim].MetricsAddr, &st, "status"); err != nil {
		t.Fatal(err)
	}
	if !st.Draining || st.PartitionsLed != 0 || st.CoordinatorSlots != 0 {
		t.Errorf("status of the drained broker %d: %+v", victim, st)
	}
	w.plain.WaitAcks(t, w.plain.Ledger.Len()+300, 30*time.Second)
	w.idem.WaitAcks(t, w.idem.Ledger.Len()+300, 30*time.Second)

	// Nothing new goes to a draining broker, even a topic created through it.
	createTopic(t, c, victim, "after-drain", 6)
	kafkatest.WaitUntil(t, 10*time.Second, "every broker to agree on the leaders of after-drain", func() error {
		v, err := c.agreed("after-drain", 6)
		if err != nil {
			return err
		}
		if n := v.ledBy(victim); n != 0 {
			t.Errorf("broker %d, draining, was given %d of 6 new partitions", victim, n)
		}
		return nil
	})

	var none struct{}
	if err := brokerVerb(t, c.brokers[2].MetricsAddr, &none, "undrain", "--broker-id", strconv.Itoa(victim)); err != nil {
		t.Fatal(err)
	}
	// The controller evens out all partitions (18, of both topics), not each topic.
	total := int32(w.partitions) + 6
	kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("broker %d to lead its share of partitions again", victim), func() error {
		if err := brokerVerb(t, c.brokers[victim].MetricsAddr, &st, "status"); err != nil {
			return err
		}
		if st.Draining || st.PartitionsLed < total/3-1 {
			return fmt.Errorf("broker %d: %+v", victim, st)
		}
		return nil
	})
	w.plain.WaitAcks(t, w.plain.Ledger.Len()+300, 30*time.Second)
	w.idem.WaitAcks(t, w.idem.Ledger.Len()+300, 30*time.Second)
	w.finish(t)
	w.verify(t, c.brokers[0].Addr)
}
