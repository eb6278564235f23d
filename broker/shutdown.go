package broker

// Shutdown of the request path. A handler's work is bounded by the request's own timeout
// and by b.requests, which BeginShutdown cancels: a client may ask for a timeout of 2^31-1
// ms (CreateTopics of thousands of topics, a produce waiting for buffer space), and the
// listener's Stop waits for every Serve call to return, so any handler still working when
// the shutdown starts would hold the shutdown until its deadline, and the final flush,
// checkpoints and lease revoke would find that deadline gone (issue 19, finding 4).

import (
	"context"
	"errors"
	"time"
)

// errShuttingDown closes connections whose requests arrive after BeginShutdown.
var errShuttingDown = errors.New("broker is shutting down")

// BeginShutdown ends the request path: handlers at work give up (their requests answer
// with an error), parked fetches answer at once, and requests arriving from now on close
// their connection once the responses before them are written. Producers whose batches
// were appended still get their acks when Drain or Close commits them. Call it before
// Drain and before stopping the listener; it may be called more than once.
func (b *Broker) BeginShutdown() { b.endRequests() }

// shuttingDown reports whether BeginShutdown was called: a handler whose work it cancelled
// has nothing to report.
func (b *Broker) shuttingDown() bool { return b.requests.Err() != nil }

// requestContext bounds a handler's work by timeout and by the shutdown.
func (b *Broker) requestContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.requests, timeout)
}
