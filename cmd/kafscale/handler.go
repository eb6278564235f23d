package main

import (
	"errors"
	"sync/atomic"

	"github.com/kafscale/kafscale/broker"
	"github.com/kafscale/kafscale/netio"
)

// lazyHandler lets the listener bind (and its port be known) before the broker has taken its
// partitions over; requests that arrive in between are refused by closing the connection,
// which every client retries.
type lazyHandler struct{ b atomic.Pointer[broker.Broker] }

// set switches requests to b; nil refuses them (between incarnations).
func (h *lazyHandler) set(b *broker.Broker) { h.b.Store(b) }

func (h *lazyHandler) Serve(req *netio.Request) {
	if b := h.b.Load(); b != nil {
		b.Serve(req)
		return
	}
	req.Close(errors.New("broker is starting or re-registering"))
}

func (h *lazyHandler) ConnClosed(c *netio.Conn) {
	if b := h.b.Load(); b != nil {
		b.ConnClosed(c)
	}
}
