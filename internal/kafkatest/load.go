package kafkatest

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafscale/kafscale/internal/ackcheck"
)

// LoadOpts shape a Loader's traffic.
type LoadOpts struct {
	Inflight  int // records produced but not yet answered, at most (default 200)
	ValueSize int // bytes per value, at least the "<prefix>-<seq>-" head
	Rate      int // records per second, at most; 0 is as fast as Inflight allows
	Clients   int // producer clients (each has its own connections); default 1
	// Idempotent producers (franz-go's default) retry without storing a batch twice.
	Idempotent bool
	// Prefix starts every value ("<Prefix>-<seq>-"), so that loaders sharing a topic write
	// distinct values; default "v".
	Prefix string
	// Opts come after the loader's own (1000 retries 50 ms apart, a buffer of Inflight
	// records) and override them.
	Opts []kgo.Opt
}

// Loader produces continuously with acks=all to every partition of a topic in turn and
// records every ack in Ledger. Values are unique per loader.
type Loader struct {
	// Ledger holds every acknowledged record.
	Ledger *ackcheck.Ledger

	cls    []*kgo.Client
	stop   context.CancelFunc
	wg     sync.WaitGroup
	sent   atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	errMsg map[string]int // produce errors by message; mu guards it
}

// StartLoader starts producing to topic's partitions through clients bootstrapped from
// seeds. It stops when the test ends; Finish stops it earlier and waits for every answer.
func StartLoader(t testing.TB, seeds []string, topic string, partitions int32, o LoadOpts) *Loader {
	t.Helper()
	if o.Inflight == 0 {
		o.Inflight = 200
	}
	if o.Prefix == "" {
		o.Prefix = "v"
	}
	l := &Loader{Ledger: ackcheck.NewLedger(), errMsg: map[string]int{}}
	newProducer := NewNonIdempotentProducer
	if o.Idempotent {
		newProducer = NewIdempotentProducer
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RequestRetries(1000),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MaxBufferedRecords(o.Inflight + 1)}, o.Opts...)
	for range max(o.Clients, 1) {
		l.cls = append(l.cls, newProducer(t, seeds[0], opts...))
	}
	ctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.run(ctx, topic, partitions, o)
	}()
	t.Cleanup(l.stop)
	return l
}

// run produces until ctx ends, at most o.Inflight records unanswered and o.Rate per second.
func (l *Loader) run(ctx context.Context, topic string, partitions int32, o LoadOpts) {
	sem := make(chan struct{}, o.Inflight)
	const tick = 10 * time.Millisecond
	var tokens int
	last := time.Now()
	for ctx.Err() == nil {
		if o.Rate > 0 {
			for tokens == 0 {
				select {
				case <-time.After(tick):
				case <-ctx.Done():
					return
				}
				now := time.Now()
				tokens = int(now.Sub(last).Seconds() * float64(o.Rate))
				if tokens > 0 {
					last = now
				}
			}
			tokens--
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		i := l.sent.Add(1)
		v := fmt.Appendf(nil, "%s-%d-", o.Prefix, i)
		for len(v) < o.ValueSize {
			v = append(v, 'x')
		}
		r := &kgo.Record{Topic: topic, Partition: int32(i % int64(partitions)), Value: v}
		l.cls[i%int64(len(l.cls))].Produce(context.Background(), r, func(r *kgo.Record, err error) {
			<-sem
			if err != nil {
				l.failed.Add(1)
				l.mu.Lock()
				l.errMsg[err.Error()]++
				l.mu.Unlock()
				return
			}
			l.Ledger.Ack(ackcheck.Partition{Topic: r.Topic, Partition: r.Partition}, r.Offset, r.Value)
		})
	}
}

// Sent returns the number of records handed to the producers so far.
func (l *Loader) Sent() int64 { return l.sent.Load() }

// Failed returns the number of records whose produce failed (not acknowledged).
func (l *Loader) Failed() int64 { return l.failed.Load() }

// Errors returns the produce errors so far, counted by message.
func (l *Loader) Errors() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.errMsg)
}

// WaitAcks waits until the ledger holds at least n acks, failing the test after timeout.
func (l *Loader) WaitAcks(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	WaitUntil(t, timeout, fmt.Sprintf("%d acks", n), func() error {
		if have := l.Ledger.Len(); have < n {
			return fmt.Errorf("%d acknowledged, %d failed", have, l.Failed())
		}
		return nil
	})
}

// Finish stops producing and waits up to 60 s until every record in flight is answered,
// logging the produce errors there were.
func (l *Loader) Finish(t testing.TB) {
	t.Helper()
	l.stop()
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, cl := range l.cls {
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("cannot flush the producer: %v", err)
		}
	}
	if errs := l.Errors(); len(errs) > 0 {
		t.Logf("produce errors (not acknowledged): %v", errs)
	}
}
