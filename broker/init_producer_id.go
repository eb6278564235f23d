package broker

// InitProducerId: versions 0-5. An idempotent producer (no transactional id) gets a fresh
// producer id with epoch 0, as Kafka does — also when it passes its current id and epoch
// (KIP-360, v3+) after an error, since without transactions nothing ties it to the old id.
// Ids come from etcd in blocks, unique across brokers and restarts. Transactions are not
// supported yet: a transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the error a
// Kafka cluster gives a client not allowed to use transactions.

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID, 0, 5, (*Broker).handleInitProducerID) }

// producerIDBlock is how many producer ids one etcd transaction reserves.
const producerIDBlock = 1000

// producerIDs hands out producer ids from blocks reserved in etcd.
type producerIDs struct {
	mu        sync.Mutex // guards next and end; held across the etcd call so blocks are not wasted
	next, end int64
}

func (b *Broker) newProducerID(ctx context.Context) (int64, error) {
	p := &b.pids
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, err := b.meta.AllocateProducerIDs(ctx, producerIDBlock)
		if err != nil {
			return -1, err
		}
		p.next, p.end = first, first+producerIDBlock
	}
	id := p.next
	p.next++
	return id, nil
}

func (b *Broker) handleInitProducerID(c *call) {
	req := c.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	if !c.mayWriteIdempotently() {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		c.respond(resp)
		return
	}
	ctx, cancel := b.requestContext(10 * time.Second)
	defer cancel()
	id, err := b.newProducerID(ctx)
	if err != nil {
		if !b.shuttingDown() {
			b.log.Warn("cannot allocate a producer id", "err", err)
		}
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		c.respond(resp)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	c.respond(resp)
}
