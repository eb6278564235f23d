package netio

import (
	"math/bits"
	"sync"
)

// Frame buffers come from power-of-two size classes, 512 B to 8 MiB. Larger frames
// (big produce requests, up to MaxRequestBytes) get a plain allocation: pooling them would
// pin tens of MiB per idle class. Within a class a buffer wastes at most half its size.
const (
	minClassShift = 9  // 512 B
	maxClassShift = 23 // 8 MiB
	numClasses    = maxClassShift - minClassShift + 1
)

// frameBuf is a pooled buffer; pools hold *frameBuf so Put does not allocate.
type frameBuf struct {
	b []byte // len == cap == its class size
}

// bufPool is a set of size-classed sync.Pools. It is safe for concurrent use.
type bufPool struct {
	classes [numClasses]sync.Pool
}

// classOf returns the class whose buffers hold size bytes, or -1 above the largest class.
func classOf(size int) int {
	if size <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(size-1)) - minClassShift
	if c >= numClasses {
		return -1
	}
	return c
}

// get returns a buffer of at least size bytes; nil means size is above the largest class
// and the caller allocates.
func (p *bufPool) get(size int) *frameBuf {
	c := classOf(size)
	if c < 0 {
		return nil
	}
	if fb, ok := p.classes[c].Get().(*frameBuf); ok {
		return fb
	}
	return &frameBuf{b: make([]byte, 1<<(c+minClassShift))}
}

// put returns fb to its class. A buffer whose capacity is not exactly a class size is
// refused (reported false), so a foreign or resliced buffer never poisons a class.
func (p *bufPool) put(fb *frameBuf) bool {
	if fb == nil {
		return false
	}
	n := cap(fb.b)
	c := classOf(n)
	if c < 0 || n != 1<<(c+minClassShift) {
		return false
	}
	fb.b = fb.b[:n]
	p.classes[c].Put(fb)
	return true
}
