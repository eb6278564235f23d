package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
)

// TestRollingRestartUnderLoad guards issue 12's acceptance 8 and the drain of acceptance 7:
// each of three brokers in turn gets SIGTERM under acks=all load, drains (the controller
// moves its partitions and coordinator slots to the others while it still serves, so
// producers follow them instead of waiting for a lease to expire), exits 0, restarts, and
// gets its share of partitions back from the controller's rebalancing. No producer (1,000
// retries) fails a record, every acknowledged record reads back at its offset without
// gaps, and the idempotent producer stores nothing twice.
func TestRollingRestartUnderLoad(t *testing.T) {
	c, w := startLoadedCluster(t)
	w.plain.WaitAcks(t, 300, 30*time.Second)
	w.idem.WaitAcks(t, 300, 30*time.Second)
	for id := range int32(len(c.brokers)) {
		b := c.brokers[id]
		start := time.Now()
		b.Term(40 * time.Second)
		stopped := time.Since(start)
		if !strings.Contains(b.LogTail(1<<20), "drained: every partition and coordinator slot moved") {
			t.Errorf("broker %d stopped without draining:\n%s", id, b.LogTail(4<<10))
		}
		c.waitServing(t, w, time.Now(), fmt.Sprintf("after broker %d stopped", id))
		b.Restart()
		kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("broker %d to lead partitions again", id), func() error {
			v, err := c.agreed(w.topic, w.partitions)
			if err != nil {
				return err
			}
			if n := v.ledBy(id); n < int(w.partitions)/len(c.brokers)-1 {
				return fmt.Errorf("broker %d leads %d of %d partitions", id, n, w.partitions)
			}
			return nil
		})
		t.Logf("broker %d: drained and stopped in %s, restarted and rebalanced after %s", id,
			stopped.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		w.plain.WaitAcks(t, w.plain.Ledger.Len()+300, 30*time.Second)
		w.idem.WaitAcks(t, w.idem.Ledger.Len()+300, 30*time.Second)
	}
	w.finish(t)
	w.verify(t, c.brokers[0].Addr)
}
