package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/ackcheck"
	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/tcpfault"
)

// TestPausedBrokerPastItsLease guards issue 12's acceptance 5: a broker stopped with
// SIGSTOP for longer than its session lease loses its partitions to the others, which go on
// writing them. When it resumes, it believes for a moment that it still leads them: it must
// acknowledge nothing that was not committed under its fence (every produce it answers
// with success is read back at its offset at the end) and must answer no ListOffsets or
// Fetch with its stale high watermark. A raw producer sends to it alone all along, the
// whole time it is stopped and after it resumes; probes ask it for offsets the moment it
// resumes.
func TestPausedBrokerPastItsLease(t *testing.T) {
	const topic, partitions = "paused", 6
	c := startCluster(t, 3)
	kafkatest.WaitUntil(t, 15*time.Second, "every broker to list all 3 brokers", func() error {
		_, err := c.agreed("", 0)
		return err
	})
	createTopic(t, c, 0, topic, partitions)
	var before view
	kafkatest.WaitUntil(t, 10*time.Second, "every broker to agree on the leaders of "+topic, func() error {
		var err error
		before, err = c.agreed(topic, partitions)
		return err
	})
	victim := int32(-1)
	for id := int32(2); id >= 0; id-- {
		if id != before.controller && before.ledBy(id) > 0 {
			victim = id
			break
		}
	}
	if victim < 0 {
		t.Fatalf("no broker but the controller leads a partition: %+v", before)
	}
	var owned []int32 // the victim's partitions
	for p, l := range before.leaders {
		if l.id == victim {
			owned = append(owned, int32(p))
		}
	}
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, c.brokers[before.controller].Addr), ledger, topic, partitions, "before", 300)

	// The zombie producer: one record at a time to each of the victim's partitions, sent
	// to the victim alone, acknowledged records noted with their offsets.
	zombie := ackcheck.NewLedger()
	var sent, acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			p := owned[n%len(owned)]
			value := fmt.Appendf(nil, "zombie-%d", n)
			sent.Add(1)
			code, off, err := c.produceOne(victim, topic, before.topicID, p, value)
			if err == nil && code == 0 {
				acked.Add(1)
				zombie.Ack(ackcheck.Partition{Topic: topic, Partition: p}, off, value)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	kafkatest.WaitUntil(t, 20*time.Second, "the victim to acknowledge 20 records", func() error {
		if n := acked.Load(); n < 20 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})

	proc := c.brokers[victim]
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	c.paused[victim] = true
	t.Cleanup(func() { _ = proc.Signal(syscall.SIGCONT) })
	ackedAtPause := acked.Load()
	kafkatest.WaitUntil(t, 30*time.Second, fmt.Sprintf("the others to lead broker %d's partitions", victim), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	moved := time.Since(pausedAt)
	// The new leaders take more records, so the victim's high watermarks are stale.
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, c.brokers[before.controller].Addr), ledger, topic, partitions, "after", 300)
	trueEnd := make(map[int32]int64)
	for _, p := range owned {
		now, err := c.agreed(topic, partitions)
		if err != nil {
			t.Fatal(err)
		}
		end, err := c.listEndOffset(now.leaders[p].id, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		trueEnd[p] = end
	}

	// Probes sent while it is stopped wait in its sockets: it reads them the moment it
	// resumes, before it may have learnt that its lease is gone.
	var (
		staleMu sync.Mutex
		stale   []string
		pwg     sync.WaitGroup
	)
	var inflight outcomes
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	for range 10 {
		for _, p := range owned {
			pwg.Add(2)
			go func() {
				defer pwg.Done()
				end, err := c.listEndOffsetCtx(pctx, victim, topic, p)
				inflight.Add(err)
				if err == nil && end < trueEnd[p] {
					staleMu.Lock()
					stale = append(stale, fmt.Sprintf("ListOffsets %s[%d] = %d (true end %d), asked while stopped", topic, p, end, trueEnd[p]))
					staleMu.Unlock()
				}
			}()
			go func() {
				defer pwg.Done()
				hw, err := c.fetchHighWatermarkCtx(pctx, victim, topic, before.topicID, p)
				inflight.Add(err)
				if err == nil && hw < trueEnd[p] {
					staleMu.Lock()
					stale = append(stale, fmt.Sprintf("Fetch %s[%d] high watermark %d (true end %d), asked while stopped", topic, p, hw, trueEnd[p]))
					staleMu.Unlock()
				}
			}()
		}
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	pwg.Wait()
	// Then probe it for a while after resuming: every answer must be an error, or current.
	probes := 10
	for time.Since(resumedAt) < 3*time.Second {
		probes++
		for _, p := range owned {
			if end, err := c.listEndOffset(victim, topic, p); err == nil && end < trueEnd[p] {
				stale = append(stale, fmt.Sprintf("ListOffsets %s[%d] = %d (true end %d) %s after resuming", topic, p, end, trueEnd[p], time.Since(resumedAt).Round(time.Millisecond)))
			}
			if hw, err := c.fetchHighWatermark(victim, topic, before.topicID, p); err == nil && hw < trueEnd[p] {
				stale = append(stale, fmt.Sprintf("Fetch %s[%d] high watermark %d (true end %d) %s after resuming", topic, p, hw, trueEnd[p], time.Since(resumedAt).Round(time.Millisecond)))
			}
		}
	}
	c.paused[victim] = false
	if len(stale) > 0 {
		t.Errorf("the resumed broker %d served %d stale answers of %d probes:\n  %s", victim, len(stale), probes*len(owned)*2, strings.Join(stale[:min(len(stale), 10)], "\n  "))
	}
	kafkatest.WaitUntil(t, 30*time.Second, fmt.Sprintf("broker %d to register again and every broker to agree", victim), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close
	read := kafkatest.ReadAll(t, c.brokers[before.controller].Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Error(err)
	}
	if err := zombie.Verify(read); err != nil {
		t.Errorf("a record the paused broker acknowledged is not stored at its offset: %v", err)
	}
	m, _ := proc.Metrics(context.Background())
	t.Logf("probes sent while it was stopped: %s", inflight.String())
	t.Logf("ZOMBIE: broker %d (leading %d of %d partitions) paused past its %s lease: partitions moved after %s; resumed and probed %d times in 3 s: %d stale answers; it acknowledged %d of %d records sent to it (%d before the pause), all read back; %s",
		victim, len(owned), partitions, sessionTTL, moved.Round(time.Millisecond), probes*len(owned)*2, len(stale),
		acked.Load(), sent.Load(), ackedAtPause, metricLine(m, "kafscale_broker_requests_held_for_lease_total"))
}

// listEndOffset asks broker id for the latest offset of topic[p] without a leader epoch,
// as a client that knows none does.
func (c *cluster) listEndOffset(id int32, topic string, p int32) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.listEndOffsetCtx(ctx, id, topic, p)
}

func (c *cluster) listEndOffsetCtx(ctx context.Context, id int32, topic string, p int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.requestCtx(ctx, id, req)
	if err != nil {
		return 0, err
	}
	resp := r.(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("broker %d: ListOffsets answered %d topics", id, len(resp.Topics))
	}
	pp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pp.ErrorCode); err != nil {
		return 0, err
	}
	return pp.Offset, nil
}

// fetchHighWatermark fetches topic[p] from offset 0 on broker id without a leader epoch and
// returns the high watermark it answers.
func (c *cluster) fetchHighWatermark(id int32, topic string, topicID [16]byte, p int32) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.fetchHighWatermarkCtx(ctx, id, topic, topicID, p)
}

func (c *cluster) fetchHighWatermarkCtx(ctx context.Context, id int32, topic string, topicID [16]byte, p int32) (int64, error) {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.CurrentLeaderEpoch, rp.PartitionMaxBytes = p, 0, -1, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := c.requestCtx(ctx, id, req)
	if err != nil {
		return 0, err
	}
	resp := r.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return 0, kerr.ErrorForCode(resp.ErrorCode)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("broker %d: Fetch answered %d topics", id, len(resp.Topics))
	}
	pp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pp.ErrorCode); err != nil {
		return 0, err
	}
	return pp.HighWatermark, nil
}

// metricLine returns the line of a Prometheus text holding name, or a note that it is
// missing.
func metricLine(text, name string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return name + " missing"
}

// outcomes counts the answers of concurrent probes by error text.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) Add(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	k := "answered"
	if err != nil {
		k = err.Error()
	}
	o.n[k]++
}

func (o *outcomes) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprint(o.n)
}

// TestBrokerCutOffFromEtcdStopsServing guards issue 12's acceptance 5, second part: a
// broker whose connection to etcd goes silent (a proxy of the test's own between it and
// etcd drops every byte both ways; the connections stay open, as when packets are
// dropped) stops acknowledging produce and stops answering reads from its partitions
// within its session lease TTL, so it never competes with the broker that takes its
// partitions over once the lease expired. Every record it acknowledged is read back at
// its offset after the connection is mended and it registered again.
func TestBrokerCutOffFromEtcdStopsServing(t *testing.T) {
	const topic, partitions = "cutoff", 6
	c := startCluster(t, 2)
	proxy := tcpfault.Start(t, strings.TrimPrefix(c.etcd.Endpoints()[0], "http://"))
	const victim = 2
	c.addBroker([]string{"http://" + proxy.Addr})
	kafkatest.WaitUntil(t, 15*time.Second, "every broker to list all 3 brokers", func() error {
		_, err := c.agreed("", 0)
		return err
	})
	createTopic(t, c, 0, topic, partitions)
	var before view
	kafkatest.WaitUntil(t, 10*time.Second, "every broker to agree on the leaders of "+topic, func() error {
		var err error
		before, err = c.agreed(topic, partitions)
		return err
	})
	var owned []int32
	for p, l := range before.leaders {
		if l.id == victim {
			owned = append(owned, int32(p))
		}
	}
	if len(owned) == 0 {
		t.Fatalf("broker %d leads no partition of %s: %+v", victim, topic, before)
	}
	ledger := ackcheck.NewLedger()
	kafkatest.ProduceSync(t, kafkatest.NewNonIdempotentProducer(t, c.brokers[0].Addr), ledger, topic, partitions, "before", 300)

	// Probes to the victim alone: a produce and a ListOffsets per round, noting when each
	// last succeeded.
	zombie := ackcheck.NewLedger()
	var (
		mu                    sync.Mutex
		lastAck, lastRead     time.Time
		acks, reads, attempts int
		readRounds            int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			p := owned[n%len(owned)]
			value := fmt.Appendf(nil, "cut-%d", n)
			code, off, err := c.produceOne(victim, topic, before.topicID, p, value)
			mu.Lock()
			attempts++
			if err == nil && code == 0 {
				acks++
				lastAck = time.Now()
				zombie.Ack(ackcheck.Partition{Topic: topic, Partition: p}, off, value)
			}
			mu.Unlock()
		}
	}()
	go func() { // reads on their own: a produce waiting for etcd must not hold them up
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := c.listEndOffset(victim, topic, owned[n%len(owned)])
			mu.Lock()
			readRounds++
			if err == nil {
				reads++
				lastRead = time.Now()
			}
			mu.Unlock()
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	kafkatest.WaitUntil(t, 20*time.Second, "the victim to acknowledge 20 records", func() error {
		mu.Lock()
		defer mu.Unlock()
		if acks < 20 {
			return fmt.Errorf("%d acknowledged", acks)
		}
		return nil
	})

	mu.Lock()
	acksAtCut := acks
	mu.Unlock()
	cutAt := time.Now()
	proxy.Cut()
	c.paused[victim] = true // not live for agreed: the others must take its partitions
	// It reports not ready before its lease can expire (acceptance 1), so that Kubernetes
	// takes it out of the bootstrap Service while the others take its partitions over.
	kafkatest.WaitUntil(t, sessionTTL, fmt.Sprintf("broker %d's /readyz to answer 503", victim), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		code, body, err := c.brokers[victim].Readyz(ctx)
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	notReadyAfter := time.Since(cutAt)
	kafkatest.WaitUntil(t, 30*time.Second, fmt.Sprintf("the others to lead broker %d's partitions", victim), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	movedAfter := time.Since(cutAt)
	// Keep probing after the move, two more rounds each (each waits for its timeout now):
	// nothing may succeed any more.
	mu.Lock()
	producesAtMove, readsAtMove := attempts, readRounds
	mu.Unlock()
	kafkatest.WaitUntil(t, 30*time.Second, "more probe rounds after the move", func() error {
		mu.Lock()
		defer mu.Unlock()
		if attempts < producesAtMove+2 || readRounds < readsAtMove+2 {
			return fmt.Errorf("%d produces and %d reads since", attempts-producesAtMove, readRounds-readsAtMove)
		}
		return nil
	})
	mu.Lock()
	ackFor, readFor := lastAck.Sub(cutAt), lastRead.Sub(cutAt)
	mu.Unlock()
	t.Logf("CUTOFF: broker %d cut off from etcd: last produce acknowledged %s after the cut, last ListOffsets answered %s after it (lease TTL %s); the others led its %d partitions after %s; /readyz answered 503 after %s",
		victim, ackFor.Round(time.Millisecond), readFor.Round(time.Millisecond), sessionTTL, len(owned), movedAfter.Round(time.Millisecond), notReadyAfter.Round(time.Millisecond))
	if ackFor >= sessionTTL {
		t.Errorf("broker %d acknowledged a produce %s after it was cut off from etcd (lease TTL %s)", victim, ackFor, sessionTTL)
	}
	if readFor >= sessionTTL {
		t.Errorf("broker %d answered ListOffsets %s after it was cut off from etcd (lease TTL %s)", victim, readFor, sessionTTL)
	}

	proxy.Mend()
	c.paused[victim] = false
	kafkatest.WaitUntil(t, 60*time.Second, fmt.Sprintf("broker %d to register again and every broker to agree", victim), func() error {
		_, err := c.agreed(topic, partitions)
		return err
	})
	close(stop)
	wg.Wait()
	read := kafkatest.ReadAll(t, c.brokers[0].Addr, topic, partitions)
	if err := ledger.Verify(read); err != nil {
		t.Error(err)
	}
	if err := zombie.Verify(read); err != nil {
		t.Errorf("a record broker %d acknowledged is not stored at its offset: %v", victim, err)
	}
	mu.Lock()
	t.Logf("broker %d acknowledged %d of %d produces (%d by the cut), answered %d of %d ListOffsets; all acknowledged records read back", victim, acks, attempts, acksAtCut, reads, readRounds)
	mu.Unlock()
}
