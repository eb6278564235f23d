package protofuzz

import (
	"encoding/binary"
	"math/rand/v2"
)

// mutate changes an encoded frame (size prefix included) in place or into a new slice,
// the way a broken or hostile client would: flipped bits, boundary values written over
// lengths and counts, bytes cut or inserted. The size prefix is kept equal to the body's
// length, so the stream stays framed and the broker parses exactly the bytes mutated.
func mutate(r *rand.Rand, frame []byte) []byte {
	body := frame[4:]
	for range 1 + r.IntN(3) {
		if len(body) == 0 {
			break
		}
		switch r.IntN(7) {
		case 0: // flip a few bits
			for range 1 + r.IntN(8) {
				body[r.IntN(len(body))] ^= 1 << r.IntN(8)
			}
		case 1: // a boundary byte
			body[r.IntN(len(body))] = []byte{0, 0x7f, 0x80, 0xff, 1}[r.IntN(5)]
		case 2: // a boundary 16-bit value (a string length, an API version)
			if len(body) >= 2 {
				at := r.IntN(len(body) - 1)
				binary.BigEndian.PutUint16(body[at:], []uint16{0, 0xffff, 0x7fff, 0x8000, 1}[r.IntN(5)])
			}
		case 3: // a boundary 32-bit value (an array length, a byte count)
			if len(body) >= 4 {
				at := r.IntN(len(body) - 3)
				binary.BigEndian.PutUint32(body[at:], []uint32{0, 0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 1 << 20}[r.IntN(6)])
			}
		case 4: // cut the tail
			body = body[:r.IntN(len(body))]
		case 5: // cut a chunk out of the middle
			at := r.IntN(len(body))
			n := r.IntN(min(len(body)-at, 64) + 1)
			body = append(body[:at:at], body[at+n:]...)
		default: // insert random bytes
			at := r.IntN(len(body) + 1)
			ins := randomBytes(r, 1+r.IntN(32))
			body = append(body[:at:at], append(ins, body[at:]...)...)
		}
	}
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	return append(out, body...)
}
