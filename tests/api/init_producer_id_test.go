package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId hands idempotent producers a fresh producer id with epoch 0 at every
// version, unique across calls; a transactional id is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED while transactions are not supported.
func TestInitProducerId(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t)
	c := dial(ctx, t, b.Addr)
	seen := make(map[int64]bool)
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		req.TransactionTimeoutMillis = 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp := c.do(req).(*kmsg.InitProducerIDResponse)
		wantCode(t, fmt.Sprintf("InitProducerId v%d", v), resp.ErrorCode, nil)
		if resp.ProducerID < 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Fatalf("InitProducerId v%d answers producer id %d epoch %d (seen before: %v)", v, resp.ProducerID, resp.ProducerEpoch, seen[resp.ProducerID])
		}
		seen[resp.ProducerID] = true
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	txn := "txn"
	req.TransactionalID = &txn
	req.TransactionTimeoutMillis = 60000
	resp := c.do(req).(*kmsg.InitProducerIDResponse)
	wantCode(t, "InitProducerId with a transactional id", resp.ErrorCode, kerr.TransactionalIDAuthorizationFailed)
}
