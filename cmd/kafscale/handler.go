package main

import (
	"errors"
	"sync"
	"time"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/netio"
)

// parkTimeout bounds how long a request waits for a broker incarnation before its
// connection is closed.
const parkTimeout = 15 * time.Second

// lazyHandler lets the listener bind (and its port be known) before the broker has taken its
// partitions over. Requests that arrive in between wait (on their connection's dispatcher
// goroutine) for the broker; closing the connection instead would fail franz-go's buffered
// records for good (a first-read EOF is taken for a TLS or SASL mismatch and not retried).
type lazyHandler struct {
	mu       sync.Mutex
	b        *broker.Broker
	ready    chan struct{} // closed when b becomes non-nil
	stopping chan struct{} // closed at shutdown: parked requests give up at once
	stopOnce sync.Once
}

// shutdown releases parked requests (their connections close) and parks no more.
func (h *lazyHandler) shutdown() {
	h.stopOnce.Do(func() {
		h.mu.Lock()
		if h.stopping == nil {
			h.stopping = make(chan struct{})
		}
		close(h.stopping)
		h.mu.Unlock()
	})
}

// set switches requests to b; nil parks them (between incarnations).
func (h *lazyHandler) set(b *broker.Broker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready == nil {
		h.ready = make(chan struct{})
	}
	h.b = b
	if b != nil {
		close(h.ready)
		h.ready = make(chan struct{})
	}
}

func (h *lazyHandler) load() (*broker.Broker, <-chan struct{}, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready == nil {
		h.ready = make(chan struct{})
	}
	if h.stopping == nil {
		h.stopping = make(chan struct{})
	}
	return h.b, h.ready, h.stopping
}

func (h *lazyHandler) Serve(req *netio.Request) {
	timer := time.NewTimer(parkTimeout)
	defer timer.Stop()
	for {
		b, ready, stopping := h.load()
		if b != nil {
			b.Serve(req)
			return
		}
		select {
		case <-ready:
		case <-stopping:
			req.Close(errors.New("broker is shutting down"))
			return
		case <-timer.C:
			req.Close(errors.New("broker is starting or re-registering"))
			return
		}
	}
}

func (h *lazyHandler) ConnClosed(c *netio.Conn) {
	if b, _, _ := h.load(); b != nil {
		b.ConnClosed(c)
	}
}
