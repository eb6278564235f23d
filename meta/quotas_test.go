package meta

import (
	"context"
	"testing"
	"time"

	"github.com/kafscale/kafscale/quota"
)

// TestQuotasAlterWatch: quotas set on named, default and empty-named entities are listed
// back as set, seen by a watch, and removed.
func TestQuotasAlterWatch(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := s.WatchQuotas(ctx)
	if first := <-w; len(first) != 0 {
		t.Fatalf("first set %v, want empty", first)
	}
	entities := []quota.Entity{
		{User: quota.Named("a/b c")},
		{User: quota.Default, ClientID: quota.Named("")},
		{ClientID: quota.Default},
	}
	for i, e := range entities {
		if err := s.AlterQuotas(ctx, e, []QuotaOp{{Key: quota.ProducerByteRate, Value: float64(1000 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var got quota.Set
	for got = range w {
		if len(got) == len(entities) {
			break
		}
	}
	for i, e := range entities {
		if got[e][quota.ProducerByteRate] != float64(1000+i) {
			t.Fatalf("%s: %v, want %d", e, got[e], 1000+i)
		}
	}
	if err := s.AlterQuotas(ctx, entities[0], []QuotaOp{{Key: quota.ProducerByteRate, Remove: true}}); err != nil {
		t.Fatal(err)
	}
	for got = range w {
		if len(got) == len(entities)-1 {
			break
		}
	}
	if _, ok := got[entities[0]]; ok {
		t.Fatalf("removed quota still listed: %v", got)
	}
}
