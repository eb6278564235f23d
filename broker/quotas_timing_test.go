package broker

import (
	"testing"
	"time"
)

var sinkBusy time.Duration

// BenchmarkHandlerClock is what the request quota adds to every request, with or without
// a quota: the clock's resume at Serve, pause when the handler returns and take at the
// answer, with the time.Now each needs. The clocks are made before the timer starts, as
// a request's is part of its call, allocated anyway.
func BenchmarkHandlerClock(b *testing.B) {
	clocks := make([]handlerClock, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h := &clocks[i]
		h.resume(time.Now())
		h.pause(time.Now())
		sinkBusy, _ = h.take(time.Now())
	}
}
