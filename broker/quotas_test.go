package broker

import (
	"testing"
	"time"
)

// TestHandlerClockCountsWorkNotWaits: the request quota's clock counts the handler's
// time and the time after a parked request wakes, not the time it waits, and gives the
// total once.
func TestHandlerClockCountsWorkNotWaits(t *testing.T) {
	var h handlerClock
	t0 := time.Unix(1000, 0)
	h.resume(t0)                                      // Serve starts
	h.pause(t0.Add(2 * time.Millisecond))             // the handler returns, the request parks
	h.resume(t0.Add(5 * time.Second))                 // woken after a long poll
	h.pause(t0.Add(5*time.Second + time.Millisecond)) // not enough data: parks again
	h.resume(t0.Add(9 * time.Second))                 // woken again
	busy, first := h.take(t0.Add(9*time.Second + 3*time.Millisecond))
	if !first || busy != 6*time.Millisecond {
		t.Fatalf("take = %s, %v; want 6ms (2 + 1 + 3) the first time", busy, first)
	}
	h.resume(t0.Add(10 * time.Second))
	if busy, first := h.take(t0.Add(11 * time.Second)); first || busy != 0 {
		t.Fatalf("second take = %s, %v; want nothing: the request was recorded", busy, first)
	}
}

// TestHandlerClockAnsweredBeforeServeReturns: a parked request answered by its goroutine
// while the dispatcher is still in Serve is counted from the start of Serve to the
// answer; the dispatcher's later pause adds nothing.
func TestHandlerClockAnsweredBeforeServeReturns(t *testing.T) {
	var h handlerClock
	t0 := time.Unix(1000, 0)
	h.resume(t0)
	h.resume(t0.Add(time.Millisecond)) // the goroutine woke: the segment is already counted
	busy, first := h.take(t0.Add(2 * time.Millisecond))
	h.pause(t0.Add(3 * time.Millisecond))
	if !first || busy != 2*time.Millisecond {
		t.Fatalf("take = %s, %v; want 2ms", busy, first)
	}
}
