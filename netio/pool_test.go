package netio

import "testing"

func TestClassOf(t *testing.T) {
	tests := []struct{ size, class int }{
		{0, 0}, {1, 0}, {512, 0}, {513, 1}, {1024, 1}, {1025, 2},
		{8 << 20, numClasses - 1}, {8<<20 + 1, -1}, {100 << 20, -1},
	}
	for _, tt := range tests {
		if got := classOf(tt.size); got != tt.class {
			t.Errorf("classOf(%d) = %d, want %d", tt.size, got, tt.class)
		}
	}
}

func TestPoolGetReturnsClassSizedBuffers(t *testing.T) {
	var p bufPool
	for _, size := range []int{0, 1, 600, 70000, 8 << 20} {
		fb := p.get(size)
		if fb == nil || len(fb.b) < size || len(fb.b) != cap(fb.b) || len(fb.b) != 1<<(classOf(size)+minClassShift) {
			t.Fatalf("get(%d) gave a buffer of len %d", size, len(fb.b))
		}
		if !p.put(fb) {
			t.Fatalf("put refused a buffer of its own class (%d)", cap(fb.b))
		}
	}
	if p.get(8<<20+1) != nil {
		t.Fatal("get above the largest class should leave allocation to the caller")
	}
}

func TestPoolRefusesForeignSizes(t *testing.T) {
	var p bufPool
	for _, n := range []int{0, 100, 513, 3000, 16 << 20} {
		if p.put(&frameBuf{b: make([]byte, n)}) {
			t.Errorf("put accepted a foreign buffer of capacity %d", n)
		}
	}
	if p.put(nil) {
		t.Error("put accepted nil")
	}
	// A class-sized capacity is accepted even if resliced shorter.
	if !p.put(&frameBuf{b: make([]byte, 10, 1024)}) {
		t.Error("put refused a 1 KiB-capacity buffer")
	}
}
