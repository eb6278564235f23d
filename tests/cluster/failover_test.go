package cluster

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
)

// failoverTarget is issue 12's goal for a kill -9 (lease TTL + assignment + takeover);
// failoverLimit is what the tests enforce on a busy CI machine with race-built brokers.
const (
	failoverTarget = 5 * time.Second
	failoverLimit  = 15 * time.Second
)

// TestFailoverAfterKill9 guards issue 12's acceptance 4: after kill -9 of a broker that
// leads partitions, the others lead and serve them within seconds (measured and logged:
// from the kill until every live broker's Metadata gives every partition a live leader,
// with a bumped leader epoch where the leader moved, and a produce to each leader is
// acknowledged), while two franz-go producers with acks=all and retries write
// continuously: no acknowledged record is lost, offsets have no gaps, and the idempotent
// producer stores nothing twice. The killed broker then restarts and rejoins: every broker
// lists three brokers again, every partition acknowledges a produce, everything reads back.
func TestFailoverAfterKill9(t *testing.T) {
	c, w := startLoadedCluster(t)
	w.plain.WaitAcks(t, 500, 30*time.Second)
	w.idem.WaitAcks(t, 500, 30*time.Second)

	before, err := c.agreed(w.topic, w.partitions)
	if err != nil {
		t.Fatalf("before the kill: %v", err)
	}
	// The non-controller leading the most partitions: the case the 5 s target is for.
	victim, most := int32(-1), 0
	for id := range int32(len(c.brokers)) {
		if n := before.ledBy(id); id != before.controller && n > most {
			victim, most = id, n
		}
	}
	if victim < 0 {
		t.Fatalf("no broker other than the controller %d leads a partition: %v", before.controller, before.leaders)
	}
	took := c.killAndWaitFailover(t, w, victim, before)
	if took > failoverTarget {
		t.Logf("failover took %s, over issue 12's target of %s", took.Round(time.Millisecond), failoverTarget)
	}

	// Keep producing a while on the two remaining brokers.
	w.plain.WaitAcks(t, w.plain.Ledger.Len()+1500, 30*time.Second)
	w.idem.WaitAcks(t, w.idem.Ledger.Len()+1500, 30*time.Second)
	w.finish(t)
	w.verify(t, c.brokers[before.controller].Addr)

	c.brokers[victim].Restart()
	kafkatest.WaitUntil(t, 20*time.Second, fmt.Sprintf("broker %d to rejoin: every broker lists 3 brokers and agrees on the leaders", victim), func() error {
		_, err := c.agreed(w.topic, w.partitions)
		return err
	})
	rejoined := time.Now()
	c.waitServing(t, w, rejoined, fmt.Sprintf("after broker %d rejoined", victim))
	w.verify(t, c.brokers[victim].Addr)
}

// TestRandomKillsLoseNothing guards issue 12's acceptance 4 over several failovers: three
// times, a broker picked at random among those leading partitions (the controller or not;
// the seed is logged, and KAFSCALE_TEST_SEED replays it) is killed with kill -9 after a
// random number of acks under acks=all load, the others take its partitions over within
// the limit, and it restarts and rejoins before the next round. At the end every
// acknowledged record reads back at its offset, offsets have no gaps, and the idempotent
// producer stored nothing twice.
func TestRandomKillsLoseNothing(t *testing.T) {
	rng := kafkatest.SeededRand(t)

	c, w := startLoadedCluster(t)
	const rounds = 3
	var times []time.Duration
	for round := range rounds {
		w.plain.WaitAcks(t, w.plain.Ledger.Len()+200+rng.IntN(800), 30*time.Second)
		// The restarted broker of the round before gets partitions back by rebalancing,
		// one move at a time: wait until the leaders settle before killing again.
		var before view
		kafkatest.WaitUntil(t, 30*time.Second, fmt.Sprintf("round %d, before the kill: every broker agrees on a live leader for every partition", round+1), func() error {
			var err error
			before, err = c.agreed(w.topic, w.partitions)
			return err
		})
		// A broker leading nothing would test membership only: the victim leads something.
		var leading []int32
		for id := range int32(len(c.brokers)) {
			if before.ledBy(id) > 0 {
				leading = append(leading, id)
			}
		}
		victim := leading[rng.IntN(len(leading))]
		t.Logf("round %d: kill -9 of broker %d (brokers leading partitions: %v)", round+1, victim, leading)
		times = append(times, c.killAndWaitFailover(t, w, victim, before))
		w.idem.WaitAcks(t, w.idem.Ledger.Len()+300, 30*time.Second)

		c.brokers[victim].Restart()
		kafkatest.WaitUntil(t, 20*time.Second, fmt.Sprintf("broker %d to rejoin", victim), func() error {
			_, err := c.agreed(w.topic, w.partitions)
			return err
		})
	}
	w.plain.WaitAcks(t, w.plain.Ledger.Len()+500, 30*time.Second)
	w.idem.WaitAcks(t, w.idem.Ledger.Len()+500, 30*time.Second)
	w.finish(t)
	t.Logf("failover times: %v (limit %s, target %s)", times, failoverLimit, failoverTarget)
	w.verify(t, c.addrs()[0])
}

// workload is the topic of a failover test and the producers writing to it.
type workload struct {
	topic      string
	partitions int32
	plain      *kafkatest.Loader // not idempotent: a retry may store a batch twice
	idem       *kafkatest.Loader // idempotent: nothing stored twice
	probes     *ackcheck.Ledger  // the test's own produces, one record each
	probeSeq   int
}

// startLoadedCluster starts three brokers, creates a topic of 12 partitions through
// broker 0, waits until every broker agrees on its leaders, and starts two loaders
// bootstrapped from all brokers.
func startLoadedCluster(t *testing.T) (*cluster, *workload) {
	t.Helper()
	c := startCluster(t, 3)
	w := &workload{topic: "failover", partitions: 12, probes: ackcheck.NewLedger()}
	kafkatest.WaitUntil(t, 15*time.Second, "every broker to list all 3 brokers", func() error {
		_, err := c.agreed("", 0)
		return err
	})
	createTopic(t, c, 0, w.topic, w.partitions)
	kafkatest.WaitUntil(t, 10*time.Second, "every broker to agree on the leaders of "+w.topic, func() error {
		_, err := c.agreed(w.topic, w.partitions)
		return err
	})
	// A steady rate, not as fast as possible: two busy cores also run three race-built
	// brokers, etcd and MinIO, and the failover time is what is measured.
	o := kafkatest.LoadOpts{Inflight: 100, Rate: 400, Prefix: "plain"}
	w.plain = kafkatest.StartLoader(t, c.addrs(), w.topic, w.partitions, o)
	o.Prefix, o.Idempotent = "idem", true
	w.idem = kafkatest.StartLoader(t, c.addrs(), w.topic, w.partitions, o)
	return c, w
}

// ledBy returns how many partitions broker id leads in v.
func (v view) ledBy(id int32) int {
	n := 0
	for _, l := range v.leaders {
		if l.id == id {
			n++
		}
	}
	return n
}

// killAndWaitFailover kills broker victim with SIGKILL and waits until the remaining
// brokers serve every partition (waitServing), failing the test after failoverLimit. It
// checks that every partition the victim led moved with a higher leader epoch, logs the
// failover time and returns it.
func (c *cluster) killAndWaitFailover(t *testing.T, w *workload, victim int32, before view) time.Duration {
	t.Helper()
	acked := w.plain.Ledger.Len() + w.idem.Ledger.Len()
	killedAt := time.Now()
	c.brokers[victim].Kill()
	agreedAfter := c.waitServing(t, w, killedAt, fmt.Sprintf("after kill -9 of broker %d", victim))
	took := time.Since(killedAt)
	role := "not the controller"
	if victim == before.controller {
		role = "the controller"
	}
	t.Logf("FAILOVER: kill -9 of broker %d (%s, leading %d of %d partitions): every partition led by a live broker after %s, every leader acknowledging a produce after %s (target %s, limit %s); %d records acknowledged by then, %d at the kill",
		victim, role, before.ledBy(victim), w.partitions, agreedAfter.Round(time.Millisecond), took.Round(time.Millisecond),
		failoverTarget, failoverLimit, w.plain.Ledger.Len()+w.idem.Ledger.Len(), acked)
	after, err := c.agreed(w.topic, w.partitions)
	if err != nil {
		t.Fatalf("right after the failover: %v", err)
	}
	for p, l := range before.leaders {
		if l.id == victim && after.leaders[p].epoch <= l.epoch {
			t.Errorf("%s[%d] moved from broker %d (epoch %d) to broker %d without a higher leader epoch (epoch %d)",
				w.topic, p, victim, l.epoch, after.leaders[p].id, after.leaders[p].epoch)
		}
	}
	return took
}

// waitServing waits until every live broker agrees that every partition has a live leader
// and each leader has acknowledged a produce of one record since then, failing the test
// after failoverLimit from since. It returns how long after since the leaders first
// agreed. The records produced go into w.probes.
func (c *cluster) waitServing(t *testing.T, w *workload, since time.Time, when string) time.Duration {
	t.Helper()
	var agreedAt time.Time
	served := make([]leader, w.partitions) // the leader that acknowledged a probe, per partition
	for p := range served {
		served[p] = leader{-1, -1}
	}
	what := fmt.Sprintf("every partition of %s led by a live broker in every live broker's Metadata and acknowledging a produce (%s)", w.topic, when)
	kafkatest.WaitUntil(t, failoverLimit-time.Since(since), what, func() error {
		v, err := c.agreed(w.topic, w.partitions)
		if err != nil {
			return err
		}
		if agreedAt.IsZero() {
			agreedAt = time.Now()
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []string
		)
		for p, l := range v.leaders {
			if served[p] == l {
				continue
			}
			w.probeSeq++
			value := fmt.Appendf(nil, "probe-%d", w.probeSeq)
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, off, err := c.produceOne(l.id, w.topic, v.topicID, int32(p), value)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					errs = append(errs, fmt.Sprintf("[%d]: %v", p, err))
				case code != 0:
					errs = append(errs, fmt.Sprintf("[%d] on broker %d (epoch %d): %v", p, l.id, l.epoch, kerr.ErrorForCode(code)))
				default:
					served[p] = l
					w.probes.Ack(ackcheck.Partition{Topic: w.topic, Partition: int32(p)}, off, value)
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			slices.Sort(errs)
			return fmt.Errorf("the leaders agree, but produce to %s failed: %v", w.topic, errs)
		}
		return nil
	})
	return agreedAt.Sub(since)
}

// finish stops both loaders, waits for every answer, and fails the test if a record was
// not acknowledged: producers with retries must ride out a failover.
func (w *workload) finish(t *testing.T) {
	t.Helper()
	w.plain.Finish(t)
	w.idem.Finish(t)
	t.Logf("acknowledged: %d plain (%d sent), %d idempotent (%d sent), %d probes",
		w.plain.Ledger.Len(), w.plain.Sent(), w.idem.Ledger.Len(), w.idem.Sent(), w.probes.Len())
	for name, l := range map[string]*kafkatest.Loader{"plain": w.plain, "idempotent": w.idem} {
		if n := l.Failed(); n > 0 {
			t.Errorf("the %s producer (1000 retries) failed %d records: %v", name, n, l.Errors())
		}
	}
}

// verify reads the whole topic through a client bootstrapped from addr and checks every
// ledger against it, and that no idempotent value is stored twice.
func (w *workload) verify(t *testing.T, addr string) {
	t.Helper()
	read := kafkatest.ReadAll(t, addr, w.topic, w.partitions)
	for name, l := range map[string]*ackcheck.Ledger{"plain": w.plain.Ledger, "idempotent": w.idem.Ledger, "probe": w.probes} {
		if err := l.Verify(read); err != nil {
			t.Errorf("%s producer: %v", name, err)
		}
	}
	var idem []ackcheck.Record
	for _, r := range read {
		if bytes.HasPrefix(r.Value, []byte("idem-")) {
			idem = append(idem, r)
		}
	}
	kafkatest.RequireExactlyOnce(t, idem)
	if dups := kafkatest.Duplicates(read); len(dups) > 0 {
		t.Logf("%d values stored twice by the non-idempotent producer (retried after the kill; expected): %v", len(dups), dups[:min(len(dups), 5)])
	}
	t.Logf("%d records read back through %s and verified", len(read), addr)
}
