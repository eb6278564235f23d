package api

import (
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	t0 := time.Now()
	b := startBroker(t)
	t.Logf("start %v", time.Since(t0))
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	n := topicName(t)
	createTopic(t, c, n, 1, nil)
	t.Logf("epoch %d", leaderEpoch(t, c, n, 0))
	t0 = time.Now()
	produceOK(t, c, n, 0, batchOf(2, 10))
	t.Logf("produce %v", time.Since(t0))
	t0 = time.Now()
	b.Term(30 * time.Second)
	b.Restart()
	t.Logf("restart %v", time.Since(t0))
	c = dial(ctx, t, b.Addr)
	t.Logf("epoch %d", leaderEpoch(t, c, n, 0))
}
