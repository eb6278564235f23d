package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/segment"
)

// concurrencyStore records the most GetSuffix calls in flight at once, holding each until
// release is closed or enough calls are waiting to show the reads overlap.
type concurrencyStore struct {
	objstore.Store
	mu       sync.Mutex
	inFlight int
	most     int
	calls    atomic.Int64
	release  chan struct{}
	once     sync.Once
}

func (s *concurrencyStore) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	if s.inFlight >= footerReads {
		s.once.Do(func() { close(s.release) })
	}
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	return s.Store.GetSuffix(ctx, key, n)
}

// TestTakeoverReadsFootersInParallel guards the restart after minutes of unmerged writes:
// a chain of thousands of flush objects had its footers read one store round trip after
// another (seconds on S3 for a single partition's takeover). They are read footerReads at a
// time, each once, and a footer voided for the partition is not read for it.
func TestTakeoverReadsFootersInParallel(t *testing.T) {
	local, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := [16]byte{1}
	const objects = 200
	var entries []meta.SeqEntry
	for i := range objects {
		var b segment.Builder
		b.Add(id, 0, 1, kafkatest.RecordBatch([]byte("v")), int64(i), int64(i), 0)
		parts, size, _ := b.Finish()
		key := fmt.Sprintf("flush/%04d", i)
		if err := local.Put(ctx, key, parts, size); err != nil {
			t.Fatal(err)
		}
		e := &metapb.ObjectEntry{Key: key}
		if i == 7 {
			e.Void = []*metapb.PartitionRef{{TopicId: id[:], Partition: 0, LeaderEpoch: 1}}
		}
		entries = append(entries, meta.SeqEntry{Seq: uint64(i), Entry: e})
	}
	st := &concurrencyStore{Store: local, release: make(chan struct{})}
	tk := newTakeover(&Broker{store: st})

	// Reads one at a time would never have footerReads in flight: the deadline fails them.
	bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tk.readFooters(bounded, entries, id, 0, 1); err != nil {
		t.Fatal(err)
	}
	if got := st.calls.Load(); got != objects-1 {
		t.Errorf("read %d footers for %d objects, one voided; want %d", got, objects, objects-1)
	}
	if st.most < 2 || st.most > footerReads {
		t.Errorf("at most %d footer reads in flight; want between 2 and %d", st.most, footerReads)
	}
	if _, ok := tk.footers["flush/0007"]; ok {
		t.Errorf("the voided object's footer was read")
	}
	if f := tk.footers["flush/0123"]; len(f.Extents) != 1 || f.Extents[0].BaseOffset != 123 {
		t.Errorf("footer of flush/0123 = %+v; want one extent at offset 123", f)
	}
	// Read already: a second partition's takeover reads nothing again.
	if err := tk.readFooters(ctx, entries, id, 1, 1); err != nil {
		t.Fatal(err)
	}
	if got := st.calls.Load(); got != objects {
		t.Errorf("%d reads after a second partition; want %d (only the footer voided for the first)", got, objects)
	}

	// A missing object fails the takeover, naming it.
	missing := append(entries[:0:0], meta.SeqEntry{Seq: objects, Entry: &metapb.ObjectEntry{Key: "flush/gone"}})
	if err := tk.readFooters(ctx, missing, id, 0, 1); err == nil || !strings.Contains(err.Error(), "flush/gone") {
		t.Errorf("readFooters of a missing object: %v; want an error naming flush/gone", err)
	}
}
