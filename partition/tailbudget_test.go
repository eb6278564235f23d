package partition

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/kafscale/kafscale/codec"
)

// TestTailBudgetBoundsAllLogs writes to many Logs sharing one budget a few batches' worth:
// after each commit the total is within the budget and equal to what the tails hold, and
// a read of the batch just written is served from the tail (the least recently written
// partitions lost theirs first).
func TestTailBudgetBoundsAllLogs(t *testing.T) {
	h := newHarness(t)
	size := int64(len(buildBatch(t, 1000)))
	budget, err := NewTailBudget(5*size + size/2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Tails = budget
	logs := make([]*Log, 40)
	for i := range logs {
		st := testState()
		st.Partition = int32(i)
		logs[i] = h.newLog(cfg, st)
	}
	ctx := context.Background()
	for round := range 3 {
		for i, l := range logs {
			h.appendCommitted(t, l, buildBatch(t, int64(1000+round)))
			if got := budget.Bytes(); got > budget.limit {
				t.Fatalf("round %d partition %d: tails hold %d bytes, over the budget of %d", round, i, got, budget.limit)
			}
			var held int64
			for _, o := range logs {
				o.mu.Lock()
				held += o.tailBytes
				o.mu.Unlock()
			}
			if got := budget.Bytes(); got != held {
				t.Fatalf("round %d partition %d: budget counts %d bytes, the tails hold %d", round, i, got, held)
			}
			before := tailHits.Get()
			got, err := l.Read(ctx, int64(round), 1<<20)
			if err != nil || len(got) != 1 {
				t.Fatalf("round %d partition %d: Read(%d) = %d batches, %v; want 1", round, i, round, len(got), err)
			}
			if tailHits.Get() == before {
				t.Fatalf("round %d partition %d: the batch just written was not read from the tail", round, i)
			}
			if i >= 5 {
				// The five partitions written last keep their batch; the one before lost it.
				if n := len(logs[i-5].tail); n != 0 {
					t.Fatalf("round %d: partition %d, written 6 commits ago, still holds %d tail batches", round, i-5, n)
				}
			}
		}
	}
	for _, l := range logs {
		l.Resign()
	}
	if got := budget.Bytes(); got != 0 {
		t.Fatalf("after every Log resigned the tails hold %d bytes; want 0", got)
	}
}

// TestTailBudgetZeroKeepsNoTail: --tail-total-bytes 0 keeps no batch in memory; reads go
// to the objects.
func TestTailBudgetZeroKeepsNoTail(t *testing.T) {
	h := newHarness(t)
	budget, err := NewTailBudget(0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Tails = budget
	l := h.newLog(cfg, testState())
	b := buildBatch(t, 1000)
	h.appendCommitted(t, l, b)
	if got := budget.Bytes(); got != 0 {
		t.Fatalf("tails hold %d bytes with a budget of 0", got)
	}
	got, err := l.Read(context.Background(), 0, 1<<20)
	if err != nil || !equalBatches(got, [][]byte{b}) {
		t.Fatalf("Read(0) = %s, %v; want the batch, from the objects", describe(t, got), err)
	}
	if _, err := NewTailBudget(-1); err == nil {
		t.Fatal("NewTailBudget(-1) accepted")
	}
}

// TestTailBudgetConcurrentCommits commits to many Logs at once (run with -race): once every
// commit has returned, the total is within the budget and matches the tails.
func TestTailBudgetConcurrentCommits(t *testing.T) {
	h := newHarness(t)
	size := int64(len(buildBatch(t, 1000)))
	budget, err := NewTailBudget(3 * size)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Tails = budget
	logs := make([]*Log, 8)
	for i := range logs {
		st := testState()
		st.Partition = int32(i)
		logs[i] = h.newLog(cfg, st)
	}
	// The goroutines report errors rather than fail the test: FailNow belongs to the
	// test's own goroutine.
	errs := make(chan error, len(logs))
	var wg sync.WaitGroup
	for _, l := range logs {
		batches, hds := make([][]byte, 10), make([]codec.BatchHeader, 10)
		for r := range batches {
			batches[r] = buildBatch(t, int64(1000+r))
			hds[r] = header(t, batches[r])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- commitEach(h, l, batches, hds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var held int64
	for _, l := range logs {
		l.mu.Lock()
		held += l.tailBytes
		l.mu.Unlock()
	}
	if got := budget.Bytes(); got > budget.limit || got != held {
		t.Fatalf("after concurrent commits the budget counts %d bytes (limit %d), the tails hold %d", got, budget.limit, held)
	}
}

// commitEach appends and commits batches one at a time, with their headers hds.
func commitEach(h *harness, l *Log, batches [][]byte, hds []codec.BatchHeader) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	for i, b := range batches {
		if err := h.flusher.Reserve(ctx, int64(len(b))); err != nil {
			return err
		}
		res, err := l.Append(b, hds[i])
		if err != nil {
			h.flusher.Unreserve(int64(len(b)))
			return fmt.Errorf("Append: %w", err)
		}
		h.flusher.Flush()
		if err := res.Flush.Wait(ctx, l); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}
