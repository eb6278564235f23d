package netio

// reqQueue is a FIFO of requests. Not safe for concurrent use: Conn.mu guards each one.
type reqQueue struct {
	buf  []*Request
	head int
}

func (q *reqQueue) push(r *Request) { q.buf = append(q.buf, r) }

// len returns how many requests the queue holds.
func (q *reqQueue) len() int { return len(q.buf) - q.head }

// front returns the oldest request, or nil.
func (q *reqQueue) front() *Request {
	if q.head == len(q.buf) {
		return nil
	}
	return q.buf[q.head]
}

// pop removes and returns the oldest request, or nil.
func (q *reqQueue) pop() *Request {
	if q.head == len(q.buf) {
		return nil
	}
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head++
	switch {
	case q.head == len(q.buf):
		q.buf, q.head = q.buf[:0], 0
	case q.head >= 64 && q.head*2 >= len(q.buf):
		// Slide down so a queue that never empties does not grow forever.
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return r
}

// reset empties the queue and returns what it held, oldest first.
func (q *reqQueue) reset() []*Request {
	rs := q.buf[q.head:]
	q.buf, q.head = nil, 0
	return rs
}
