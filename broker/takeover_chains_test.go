package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/meta"
	"github.com/kafscale/kafscale/meta/metapb"
	"github.com/kafscale/kafscale/objstore"
	"github.com/kafscale/kafscale/partition"
	"github.com/kafscale/kafscale/segment"
)

// concurrencyStore records the most GetSuffix calls in flight at once, holding each until
// release is closed or enough calls are waiting to show the reads overlap.
type concurrencyStore struct {
	objstore.Store
	mu       sync.Mutex
	inFlight int
	most     int
	calls    atomic.Int64 // footer reads, ranged or suffix
	ranged   atomic.Int64 // footer reads at a known position (GetRange)
	release  chan struct{}
	once     sync.Once
}

func (s *concurrencyStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.ranged.Add(1)
	if err := s.hold(ctx); err != nil {
		return nil, err
	}
	return s.Store.GetRange(ctx, key, off, n)
}

func (s *concurrencyStore) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	if err := s.hold(ctx); err != nil {
		return nil, 0, err
	}
	return s.Store.GetSuffix(ctx, key, n)
}

// hold counts one read in flight until release is closed.
func (s *concurrencyStore) hold(ctx context.Context) error {
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
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestTakeoverIndexesEachChainOnce guards two costs of a restart after minutes of unmerged
// writes: a chain of thousands of flush objects had its footers read one store round trip
// after another, and every partition scanned every object's extents (10,000 partitions x
// objects x extents). Footers are read footerReads at a time, each once, and each
// partition's extents come out of an index, in seq order, from its chain's first seq on,
// without those its object voided.
func TestTakeoverIndexesEachChainOnce(t *testing.T) {
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
		for p := range int32(2) {
			b.Add(id, p, 1, kafkatest.RecordBatch([]byte("v")), int64(i), int64(i), 0)
		}
		parts, size, footer := b.Finish()
		key := fmt.Sprintf("flush/%04d", i)
		if err := local.Put(ctx, key, parts, size); err != nil {
			t.Fatal(err)
		}
		e := &metapb.ObjectEntry{Key: key, Size: size}
		if i%2 == 0 {
			// Entries locate their footer; odd ones stand for entries that do not.
			e.FooterPos, e.FooterLen = footer.FooterPos, footer.FooterLen
		}
		if i == 7 {
			e.Void = []*metapb.PartitionRef{{TopicId: id[:], Partition: 0, LeaderEpoch: 1}}
		}
		entries = append(entries, meta.SeqEntry{Seq: uint64(i), Entry: e})
	}
	st := &concurrencyStore{Store: local, release: make(chan struct{})}
	tk := newTakeover(&Broker{store: st})
	tk.chains[chainID{0, 1}] = &chainIndex{entries: entries, from: len(entries), extents: map[extentKey][]partition.Extent{}}
	chain := func(first uint64) *metapb.Chain {
		return &metapb.Chain{BrokerId: 0, Incarnation: 1, FirstSeq: first, LeaderEpoch: 1}
	}
	offsets := func(exts []partition.Extent) []int64 {
		var out []int64
		for _, e := range exts {
			out = append(out, e.BaseOffset)
		}
		return out
	}
	want := func(from int64, skip ...int64) []int64 {
		var out []int64
		for o := from; o < objects; o++ {
			if !slices.Contains(skip, o) {
				out = append(out, o)
			}
		}
		return out
	}

	// Reads one at a time would never have footerReads in flight: the deadline fails them.
	bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := tk.chainExtents(bounded, id, 1, chain(100))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(offsets(got), want(100)) {
		t.Errorf("partition 1 from seq 100: offsets %v; want %v", offsets(got), want(100))
	}
	if got := st.calls.Load(); got != objects-100 {
		t.Errorf("read %d footers for seqs 100 on; want %d", got, objects-100)
	}
	if st.most < 2 || st.most > footerReads {
		t.Errorf("at most %d footer reads in flight; want between 2 and %d", st.most, footerReads)
	}

	// An earlier first seq reads only the footers not read yet, and the extents stay in order.
	got, err = tk.chainExtents(ctx, id, 0, chain(0))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(offsets(got), want(0, 7)) {
		t.Errorf("partition 0 from seq 0: offsets %v; want all but the voided 7", offsets(got))
	}
	if got := st.calls.Load(); got != objects {
		t.Errorf("%d footer reads after the whole chain; want %d, each once", got, objects)
	}
	if got := st.ranged.Load(); got != objects/2 {
		t.Errorf("%d footers read at their known position; want the %d entries that locate them", got, objects/2)
	}
	got, err = tk.chainExtents(ctx, id, 1, chain(0))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(offsets(got), want(0)) {
		t.Errorf("partition 1 from seq 0: offsets %v; want %v", offsets(got), want(0))
	}
	if got, _ := tk.chainExtents(ctx, id, 1, &metapb.Chain{BrokerId: 0, Incarnation: 1, LeaderEpoch: 2}); len(got) != 0 {
		t.Errorf("partition 1 at epoch 2: %d extents; want none", len(got))
	}

	// A missing object fails the takeover, naming it.
	tk.chains[chainID{0, 2}] = &chainIndex{entries: []meta.SeqEntry{{Seq: 0, Entry: &metapb.ObjectEntry{Key: "flush/gone"}}}, from: 1, extents: map[extentKey][]partition.Extent{}}
	if _, err := tk.chainExtents(ctx, id, 0, &metapb.Chain{BrokerId: 0, Incarnation: 2, LeaderEpoch: 1}); err == nil || !strings.Contains(err.Error(), "flush/gone") {
		t.Errorf("chainExtents over a missing object: %v; want an error naming flush/gone", err)
	}
}
