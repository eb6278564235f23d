package netio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAddrResolvesPortZero(t *testing.T) {
	s, _ := startServer(t, testConfig(), HandlerFunc(echo))
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok || addr.Port == 0 || !addr.IP.IsLoopback() {
		t.Fatalf("Addr() = %v, want a loopback address with a real port", s.Addr())
	}
	c := dial(t, s)
	c.send("hello")
	c.expect("hello")
}

func TestStartRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"negative max request bytes", func(c *Config) { c.MaxRequestBytes = -1 }, "MaxRequestBytes"},
		{"negative max in flight", func(c *Config) { c.MaxInFlight = -3 }, "MaxInFlight"},
		{"paused inbound below one frame", func(c *Config) { c.MaxPausedInboundBytes = 10 }, "MaxPausedInboundBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			err := New(cfg, HandlerFunc(echo), nil).Start()
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Fatalf("Start() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func TestStartFailsWhenAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig()
	cfg.Listen = ln.Addr().String()
	s := New(cfg, HandlerFunc(echo), nil)
	if err := s.Start(); err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("Start on a busy address succeeded")
	}
}

func TestEchoFrameSizes(t *testing.T) {
	s, _ := startServer(t, testConfig(), HandlerFunc(echo))
	c := dial(t, s)
	for _, size := range []int{0, 1, 511, 512, 513, 4096, 65 << 10, 1 << 20, 9 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			payload := bytes.Repeat([]byte{byte(size)}, size)
			copy(payload, strconv.Itoa(size))
			c.t = t
			c.write(frame(payload))
			if got := c.recv(); !bytes.Equal(got, payload) {
				t.Fatalf("echo of %d bytes came back as %d different bytes", size, len(got))
			}
		})
	}
}

func TestPipelinedResponsesKeepRequestOrderWhenAnsweredInReverse(t *testing.T) {
	const n = 100
	h := &recorder{}
	var all sync.WaitGroup
	all.Add(n)
	h.serveFn = func(*Request) { all.Done() }
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	var batch []byte
	for i := range n {
		batch = append(batch, frame([]byte("req-"+strconv.Itoa(i)))...)
	}
	c.write(batch)
	all.Wait()
	// Answer the last request first, each from its own goroutine, strictly in reverse.
	for i := n - 1; i >= 0; i-- {
		r := h.request(i)
		answered := make(chan struct{})
		go func() {
			r.Respond([][]byte{[]byte("resp-"), r.Frame[len("req-"):]}, func() {})
			close(answered)
		}()
		<-answered
	}
	for i := range n {
		c.expect("resp-" + strconv.Itoa(i))
	}
}

func TestNoResponseInTheMiddleFreesItsSlot(t *testing.T) {
	h := &recorder{serveFn: func(r *Request) {
		if string(r.Frame) == "skip" {
			r.NoResponse()
			return
		}
		echo(r)
	}}
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	for _, p := range []string{"a", "skip", "b", "skip", "skip", "c"} {
		c.send(p)
	}
	c.expect("a")
	c.expect("b")
	c.expect("c")
	c.send("d")
	c.expect("d")
}

func TestFrameSplitAcrossOneByteWrites(t *testing.T) {
	s, _ := startServer(t, testConfig(), HandlerFunc(echo))
	c := dial(t, s)
	payload := []byte("a frame that arrives one byte at a time")
	for _, b := range append(frame(payload), frame([]byte("next"))...) {
		c.write([]byte{b})
	}
	c.expect(string(payload))
	c.expect("next")
}

// TestBadFrameSizeClosesBeforeBody guards against allocating (or waiting for) a body whose
// announced size is hostile: the connection closes on the 4-byte header alone.
func TestBadFrameSizeClosesBeforeBody(t *testing.T) {
	cfg := testConfig()
	tests := []struct {
		name string
		size uint32
	}{
		{"one over the limit", uint32(cfg.MaxRequestBytes + 1)},
		{"max int32", 1<<31 - 1},
		{"negative", 0xffffffff},
		{"most negative", 1 << 31},
	}
	h := &recorder{serveFn: echo}
	s, logs := startServer(t, cfg, h)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rejectedFramesTotal.Get()
			c := dial(t, s)
			c.send("fine")
			c.expect("fine")
			served := h.numServed()
			c.write(binary.BigEndian.AppendUint32(nil, tt.size))
			c.expectClosed()
			if got := rejectedFramesTotal.Get() - before; got != 1 {
				t.Errorf("rejected frames grew by %d, want 1", got)
			}
			if h.numServed() != served {
				t.Errorf("the bad frame reached the handler")
			}
			if want := "size=" + strconv.Itoa(int(int32(tt.size))); !containsAll(logs.String(), "rejecting frame", want) {
				t.Errorf("log lacks the rejection with %s:\n%s", want, logs.String())
			}
		})
	}
}

func TestTruncatedFrameThenCloseLeavesNothingBehind(t *testing.T) {
	h := &recorder{serveFn: echo}
	s, _ := startServer(t, testConfig(), h)
	base := connectionsGauge.Get()
	c := dial(t, s)
	waitFor(t, "the connection to open", func() bool { return connectionsGauge.Get() == base+1 })
	full := frame(bytes.Repeat([]byte("x"), 100))
	c.write(full[:50])
	_ = c.conn.Close()
	waitFor(t, "ConnClosed", func() bool { return h.numClosed() == 1 })
	waitFor(t, "the connection gauge to drop", func() bool { return connectionsGauge.Get() == base })
	if n := h.numServed(); n != 0 {
		t.Fatalf("a truncated frame was served %d times", n)
	}
}

func TestManyConnectionsConcurrently(t *testing.T) {
	const conns, reqs = 40, 50
	h := &recorder{serveFn: func(r *Request) {
		// Answer from another goroutine half the time, as real handlers do.
		if r.Frame[len(r.Frame)-1]%2 == 0 {
			go echo(r)
			return
		}
		echo(r)
	}}
	s, _ := startServer(t, testConfig(), h)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		c := dial(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []byte
			for j := range reqs {
				batch = append(batch, frame(fmt.Appendf(nil, "c%d-r%d", i, j))...)
			}
			if _, err := c.conn.Write(batch); err != nil {
				errs <- err
				return
			}
			for j := range reqs {
				b, err := c.tryRecv()
				if want := fmt.Sprintf("c%d-r%d", i, j); err != nil || string(b) != want {
					errs <- fmt.Errorf("conn %d response %d: %q, %v; want %q", i, j, b, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClientThatNeverReadsDoesNotBlockOthers guards against a slow consumer filling the
// server: its responses pile up only to MaxOutboundBytes, then it stops being served,
// while another client on the same event loops is answered as usual.
func TestClientThatNeverReadsDoesNotBlockOthers(t *testing.T) {
	cfg := testConfig()
	cfg.MaxOutboundBytes = 256 << 10
	big := bytes.Repeat([]byte("r"), 128<<10)
	var servedLazy atomic.Int64
	h := &recorder{serveFn: func(r *Request) {
		if string(r.Frame) == "lazy" {
			servedLazy.Add(1)
			r.Respond([][]byte{big}, nil)
			return
		}
		echo(r)
	}}
	s, _ := startServer(t, cfg, h)
	pauses := pausesTotal.Get()

	lazy := dial(t, s)
	// 50 MiB of responses: more than the socket buffers can hold (receive buffers grow
	// only when the application reads).
	const lazyReqs = 400
	var batch []byte
	for range lazyReqs {
		batch = append(batch, frame([]byte("lazy"))...)
	}
	lazy.write(batch)
	waitFor(t, "the lazy client to be paused", func() bool { return pausesTotal.Get() > pauses })

	busy := dial(t, s)
	for i := range 200 {
		busy.send("busy-" + strconv.Itoa(i))
		busy.expect("busy-" + strconv.Itoa(i))
	}
	if n := servedLazy.Load(); n >= lazyReqs {
		t.Fatalf("all %d requests of the client that never reads were served", n)
	}

	t.Logf("served %d of %d requests of the client that does not read", servedLazy.Load(), lazyReqs)

	// Once it reads, it is resumed and every request is answered.
	for i := range lazyReqs {
		if got := lazy.recv(); len(got) != len(big) {
			t.Fatalf("lazy response %d has %d bytes, want %d", i, len(got), len(big))
		}
	}
}

func TestMaxInFlightPausesAndResumes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxInFlight = 4
	var mu sync.Mutex
	auto := false
	h := &recorder{}
	h.serveFn = func(r *Request) {
		mu.Lock()
		defer mu.Unlock()
		if auto {
			echo(r)
		}
	}
	s, _ := startServer(t, cfg, h)
	c := dial(t, s)
	const n = 10
	var batch []byte
	for i := range n {
		batch = append(batch, frame([]byte(strconv.Itoa(i)))...)
	}
	c.write(batch)
	waitFor(t, "MaxInFlight requests served", func() bool { return h.numServed() == cfg.MaxInFlight })
	holds(t, "pause at MaxInFlight", 100*time.Millisecond, func() bool { return h.numServed() == cfg.MaxInFlight })

	echo(h.request(0))
	waitFor(t, "one more request after one answer", func() bool { return h.numServed() == cfg.MaxInFlight+1 })
	c.expect("0")

	mu.Lock()
	auto = true
	held := h.served[1:]
	mu.Unlock()
	for _, r := range held {
		echo(r)
	}
	for i := 1; i < n; i++ {
		c.expect(strconv.Itoa(i))
	}
}

func TestPanicInHandlerClosesOnlyThatConnection(t *testing.T) {
	before := handlerPanicsTotal.Get()
	h := &recorder{serveFn: func(r *Request) {
		if string(r.Frame) == "boom" {
			panic("handler exploded")
		}
		echo(r)
	}}
	s, logs := startServer(t, testConfig(), h)
	victim, bystander := dial(t, s), dial(t, s)
	victim.send("ok")
	victim.expect("ok")
	victim.send("boom")
	victim.expectClosed()
	bystander.send("still here")
	bystander.expect("still here")
	if got := handlerPanicsTotal.Get() - before; got != 1 {
		t.Errorf("panics grew by %d, want 1", got)
	}
	if !containsAll(logs.String(), "handler panicked", "handler exploded", "goroutine") {
		t.Errorf("log lacks the panic and its stack:\n%s", logs.String())
	}
}

func TestCloseWritesEarlierResponsesFirst(t *testing.T) {
	h := &recorder{}
	var all sync.WaitGroup
	all.Add(2)
	h.serveFn = func(r *Request) {
		if string(r.Frame) == "bye" {
			r.Close(errors.New("client said bye"))
		}
		all.Done()
	}
	s, logs := startServer(t, testConfig(), h)
	c := dial(t, s)
	c.send("first")
	c.send("bye")
	c.send("never served")
	all.Wait()
	echo(h.request(0)) // answered after the Close, yet written before it
	c.expect("first")
	c.expectClosed()
	waitFor(t, "ConnClosed", func() bool { return h.numClosed() == 1 })
	if n := h.numServed(); n != 2 {
		t.Errorf("served %d requests, want 2: nothing after the Close", n)
	}
	if !containsAll(logs.String(), "client said bye") {
		t.Errorf("log lacks the close reason:\n%s", logs.String())
	}
}

func TestAnswersAfterConnectionClosedAreHarmless(t *testing.T) {
	h := &recorder{}
	s, logs := startServer(t, testConfig(), h)
	c := dial(t, s)
	c.send("one")
	c.send("two")
	waitFor(t, "both served", func() bool { return h.numServed() == 2 })
	_ = c.conn.Close()
	waitFor(t, "ConnClosed", func() bool { return h.numClosed() == 1 })

	var dones atomic.Int32
	h.request(0).Respond([][]byte{[]byte("late")}, func() { dones.Add(1) })
	h.request(1).NoResponse()
	h.request(0).Respond([][]byte{[]byte("twice")}, func() { dones.Add(1) })
	if got := dones.Load(); got != 2 {
		t.Fatalf("%d done funcs ran, want 2", got)
	}
	if !containsAll(logs.String(), "BUG: request answered twice") {
		t.Errorf("a second answer was not reported:\n%s", logs.String())
	}
}

func TestDoneRunsAfterWrite(t *testing.T) {
	dones := make(chan string, 3)
	h := &recorder{serveFn: func(r *Request) {
		p := string(r.Frame)
		r.Respond([][]byte{r.Frame}, func() { dones <- p })
	}}
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	for _, p := range []string{"x", "y", "z"} {
		c.send(p)
		c.expect(p)
	}
	for _, want := range []string{"x", "y", "z"} {
		select {
		case got := <-dones:
			if got != want {
				t.Fatalf("done for %q, want %q", got, want)
			}
		case <-time.After(testTimeout):
			t.Fatalf("done for %q never ran", want)
		}
	}
}

// TestResponseWithMorePartsThanIOVMax guards against one writev with more than IOV_MAX
// slices, which the kernel rejects (and gnet would then close the connection).
func TestResponseWithMorePartsThanIOVMax(t *testing.T) {
	const parts = 3*iovMax + 7
	h := &recorder{serveFn: func(r *Request) {
		ps := make([][]byte, parts)
		for i := range ps {
			ps[i] = []byte{byte('a' + i%26)}
		}
		r.Respond(ps, nil)
	}}
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	c.send("q1")
	c.send("q2")
	for range 2 {
		got := c.recv()
		if len(got) != parts {
			t.Fatalf("response of %d bytes, want %d", len(got), parts)
		}
		for i, b := range got {
			if b != byte('a'+i%26) {
				t.Fatalf("byte %d is %q", i, b)
			}
		}
	}
}

func TestDetachedFrameIsNotRecycled(t *testing.T) {
	kept := make(chan *Request, 1)
	h := &recorder{serveFn: func(r *Request) {
		if string(r.Frame) == "keep" {
			r.Detach()
			kept <- r
		}
		echo(r)
	}}
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	c.send("keep")
	c.expect("keep")
	r := <-kept
	for range 100 { // reuse the pool's 512-byte class many times over
		c.send("over")
		c.expect("over")
	}
	if string(r.Frame) != "keep" {
		t.Fatalf("detached frame was overwritten: %q", r.Frame)
	}
}

func TestStopBeforeStartIsNoop(t *testing.T) {
	if err := New(testConfig(), HandlerFunc(echo), nil).Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start = %v", err)
	}
}

func TestStopWaitsForServeAndCallsConnClosed(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	h := &recorder{serveFn: func(r *Request) {
		close(entered)
		<-release
		r.NoResponse()
	}}
	s := New(testConfig(), h, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	c.send("slow")
	<-entered

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a Serve still running = %v, want a deadline error", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	holds(t, "Stop waiting for Serve", 50*time.Millisecond, func() bool { return len(stopped) == 0 })
	if h.numClosed() != 0 {
		t.Fatal("ConnClosed ran while Serve was still running")
	}
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop = %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Stop did not return after Serve did")
	}
	if n := h.numClosed(); n != 1 {
		t.Fatalf("ConnClosed ran %d times, want 1", n)
	}
	c.expectClosed()
}

// TestLargeFrameReadAsItArrives: frames from directReadMin up are read into their own
// buffer while their bytes arrive (see directReadMin). Sent in 64 KiB pieces with pauses,
// each such frame, and a small frame that shares the large one's last write, arrive whole
// and in order; a large frame cut off by the client's close is never served.
func TestLargeFrameReadAsItArrives(t *testing.T) {
	h := &recorder{serveFn: echo}
	s, _ := startServer(t, testConfig(), h)
	c := dial(t, s)
	for _, size := range []int{directReadMin - 1, directReadMin, 1<<20 + 3, 9 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		wire := append(frame(payload), frame([]byte("after"))...)
		for len(wire) > 0 {
			n := min(len(wire), 64<<10)
			c.write(wire[:n])
			wire = wire[n:]
			time.Sleep(time.Millisecond)
		}
		if got := c.recv(); !bytes.Equal(got, payload) {
			t.Fatalf("echo of a %d-byte frame sent in pieces came back as %d different bytes", size, len(got))
		}
		c.expect("after")
	}

	served := h.numServed()
	cut := dial(t, s)
	cut.write(frame(make([]byte, 4<<20))[:3<<20]) // three quarters of a 4 MiB frame
	time.Sleep(50 * time.Millisecond)
	_ = cut.conn.Close()
	waitFor(t, "ConnClosed of the cut connection", func() bool { return h.numClosed() == 1 })
	if got := h.numServed(); got != served {
		t.Fatalf("a frame cut off by the client's close was served (%d served, want %d)", got, served)
	}
	c.send("still serving")
	c.expect("still serving")
}
