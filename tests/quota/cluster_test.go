package quota

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/internal/kafkatest"
	"github.com/kafscale/kafscale/internal/testbroker"
)

// TestQuotaReachesEveryBroker: a quota set through broker 0 of a two-broker cluster is
// described (and so enforced: both read the same watched set) by broker 1 within seconds,
// and so is its removal.
func TestQuotaReachesEveryBroker(t *testing.T) {
	p := testbroker.StartDevCluster(t, 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	alter := func(remove bool) {
		t.Helper()
		req := kmsg.NewPtrAlterClientQuotasRequest()
		e := kmsg.NewAlterClientQuotasRequestEntry()
		ent := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ent.Type, ent.Name = "user", kmsg.StringPtr("carol")
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value, op.Remove = "consumer_byte_rate", 4096, remove
		e.Entity, e.Ops = append(e.Entity, ent), append(e.Ops, op)
		req.Entries = append(req.Entries, e)
		resp, err := req.RequestWith(ctx, cl.Broker(0))
		if err == nil && resp.Entries[0].ErrorCode != 0 {
			err = fmt.Errorf("error code %d", resp.Entries[0].ErrorCode)
		}
		if err != nil {
			t.Fatalf("AlterClientQuotas through broker 0: %v", err)
		}
	}
	onBroker1 := func() (int, error) {
		resp, err := kmsg.NewPtrDescribeClientQuotasRequest().RequestWith(ctx, cl.Broker(1))
		if err != nil {
			return 0, err
		}
		return len(resp.Entries), nil
	}
	alter(false)
	kafkatest.WaitUntil(t, 10*time.Second, "broker 1 to describe the quota set through broker 0", func() error {
		if n, err := onBroker1(); err != nil || n != 1 {
			return fmt.Errorf("broker 1 describes %d entries (%v)", n, err)
		}
		return nil
	})
	alter(true)
	kafkatest.WaitUntil(t, 10*time.Second, "broker 1 to see the quota removed", func() error {
		if n, err := onBroker1(); err != nil || n != 0 {
			return fmt.Errorf("broker 1 describes %d entries (%v)", n, err)
		}
		return nil
	})
}
