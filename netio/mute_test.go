package netio

import (
	"testing"
	"time"
)

// TestMuteHoldsLaterRequests: a request muted (a quota throttle) is answered at once, and
// the connection's next requests are served only after the mute ends, in order; another
// connection is not held.
func TestMuteHoldsLaterRequests(t *testing.T) {
	const mute = time.Second
	h := &recorder{}
	h.serveFn = func(r *Request) {
		if string(r.Frame) == "mute" {
			r.Conn.Mute(mute)
		}
		echo(r)
	}
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	c.send("mute")
	start := time.Now()
	c.expect("mute")
	if d := time.Since(start); d >= mute {
		t.Fatalf("the muting request's answer took %s, want it at once", d)
	}
	c.send("a")
	c.send("b")
	other := dial(t, s)
	other.send("other")
	other.expect("other")
	if d := time.Since(start); d >= mute {
		t.Fatalf("another connection's answer took %s, want it during the mute", d)
	}
	c.expect("a")
	if d := time.Since(start); d < mute {
		t.Fatalf("a request after the mute was answered after %s, before the %s mute ended", d, mute)
	}
	c.expect("b")
}
