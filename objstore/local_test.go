package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func newTestLocal(t *testing.T) *Local {
	t.Helper()
	st, err := NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLocalPutLeavesNoTempFiles(t *testing.T) {
	st := newTestLocal(t)
	ctx := context.Background()
	if err := st.Put(ctx, "a/b/c", [][]byte{[]byte("x")}, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "a/b/c", [][]byte{[]byte("y")}, 1); !errors.Is(err, ErrExists) {
		t.Fatalf("second Put error = %v; want ErrExists", err)
	}
	entries, err := os.ReadDir(filepath.Join(st.Root(), localTempDir))
	if err != nil || len(entries) != 0 {
		t.Fatalf("temp dir holds %d entries (err %v); want none", len(entries), err)
	}
	if _, err := os.Stat(filepath.Join(st.Root(), "a", "b", "c")); err != nil {
		t.Fatalf("key did not map to a subdirectory file: %v", err)
	}
}

// TestLocalListIgnoresTempFiles guards against half-written objects showing up in List.
func TestLocalListIgnoresTempFiles(t *testing.T) {
	st := newTestLocal(t)
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(st.Root(), localTempDir, "put-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "k", [][]byte{[]byte("v")}, 1); err != nil {
		t.Fatal(err)
	}
	infos, err := st.List(ctx, "")
	if err != nil || len(infos) != 1 || infos[0].Key != "k" {
		t.Fatalf("List = %+v, %v; want only k", infos, err)
	}
}

func TestLocalRejectsTempDirKeys(t *testing.T) {
	st := newTestLocal(t)
	for _, key := range []string{localTempDir, localTempDir + "/x"} {
		if err := st.Put(context.Background(), key, nil, 0); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v; want ErrInvalidKey", key, err)
		}
	}
}

func TestLocalRemovesStaleTempFilesOnOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewLocal(dir, nil); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, localTempDir, "put-stale")
	fresh := filepath.Join(dir, localTempDir, "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTempAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLocal(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

// TestLocalDirectoryIsNotAnObject guards against reading or deleting a directory that
// only exists because other keys live under it.
func TestLocalDirectoryIsNotAnObject(t *testing.T) {
	st := newTestLocal(t)
	ctx := context.Background()
	if err := st.Put(ctx, "d/x", [][]byte{[]byte("v")}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetRange(ctx, "d", 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRange(dir) error = %v; want ErrNotFound", err)
	}
	if _, _, err := st.GetSuffix(ctx, "d/x/y", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSuffix(file/child) error = %v; want ErrNotFound", err)
	}
	if err := st.Delete(ctx, "d"); err != nil {
		t.Errorf("Delete(dir) = %v; want nil", err)
	}
	if got, err := st.GetRange(ctx, "d/x", 0, 1); err != nil || string(got) != "v" {
		t.Errorf("object under dir = %q, %v after Delete(dir)", got, err)
	}
}

func TestLocalCanceledContextFails(t *testing.T) {
	st := newTestLocal(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Put(ctx, "k", nil, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Put error = %v; want context.Canceled", err)
	}
	if _, err := st.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List error = %v; want context.Canceled", err)
	}
}

// TestLocalPutKeepsEveryByteAcrossChunkAndBlockEdges: on Linux Put writes through aligned
// O_DIRECT chunks with the last one padded and cut back; objects whose size or part edges
// fall on, just before and just after a block or a chunk edge read back byte for byte,
// with their exact size, in a directory on the disk, in one on tmpfs (/dev/shm, which
// may refuse O_DIRECT and take buffered writes) and through the page cache as a store
// that found O_DIRECT refused writes.
func TestLocalPutKeepsEveryByteAcrossChunkAndBlockEdges(t *testing.T) {
	const block, chunk = 4096, 2 << 20
	dirs := map[string]string{"disk": t.TempDir(), "disk, buffered": t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "kafscale-objstore-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	sizes := [][]int{
		{0}, {1}, {block - 1}, {block}, {block + 1},
		{chunk - 1}, {chunk}, {chunk + 1}, {2*chunk + 3},
		{1, block - 1, 7}, {chunk - 5, 10, block}, {3, 0, chunk, 1},
	}
	for name, dir := range dirs {
		st, err := NewLocal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.noDirect.Store(name == "disk, buffered")
		for i, parts := range sizes {
			var want []byte
			var ps [][]byte
			for j, n := range parts {
				p := make([]byte, n)
				for k := range p {
					p[k] = byte(i*31 + j*7 + k*13)
				}
				ps = append(ps, p)
				want = append(want, p...)
			}
			key := fmt.Sprintf("obj-%d", i)
			if err := st.Put(context.Background(), key, ps, int64(len(want))); err != nil {
				t.Fatalf("%s: Put of parts %v: %v", name, parts, err)
			}
			got, size, err := st.GetSuffix(context.Background(), key, int64(len(want))+1)
			if err != nil {
				t.Fatalf("%s: GetSuffix of parts %v: %v", name, parts, err)
			}
			if size != int64(len(want)) {
				t.Errorf("%s: parts %v: object size %d, want %d", name, parts, size, len(want))
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: parts %v: read back %d bytes that differ from the %d written", name, parts, len(got), len(want))
			}
			if len(want) > 0 {
				r, err := st.GetRange(context.Background(), key, int64(len(want)-1), 1)
				if err != nil || len(r) != 1 || r[0] != want[len(want)-1] {
					t.Errorf("%s: parts %v: last byte by range read %v, %v", name, parts, r, err)
				}
			}
		}
	}
}

// TestLocalGetRangeAcrossBlockEdges: on Linux GetRange reads the enclosing aligned blocks
// with O_DIRECT and returns the range asked for; ranges starting and ending on, just before
// and just after block edges, up to the object's last byte (its last block cut short by the
// end of the file), read back byte for byte on the disk, through the page cache, and on
// tmpfs (which may refuse O_DIRECT).
func TestLocalGetRangeAcrossBlockEdges(t *testing.T) {
	const block = 4096
	dirs := map[string]string{"disk": t.TempDir(), "disk, buffered": t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "kafscale-objstore-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	obj := make([]byte, 3<<20+block/2+5)
	for i := range obj {
		obj[i] = byte(i*13 + i>>12)
	}
	size := int64(len(obj))
	ranges := [][2]int64{
		{0, 1}, {0, block}, {0, block + 1}, {1, block - 1}, {block - 1, 2}, {block, block},
		{block + 1, 3 * block}, {5, 1 << 20}, {block, 1 << 20}, {3, 2 << 20},
		{size - 1, 1}, {size - block, block}, {size - 3*block - 7, 3*block + 7}, {0, size}, {7, size - 7},
	}
	for name, dir := range dirs {
		st, err := NewLocal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.noDirect.Store(name == "disk, buffered")
		if err := st.Put(context.Background(), "o", [][]byte{obj}, size); err != nil {
			t.Fatalf("%s: Put: %v", name, err)
		}
		for _, r := range ranges {
			got, err := st.GetRange(context.Background(), "o", r[0], r[1])
			if err != nil {
				t.Fatalf("%s: GetRange(%d, %d): %v", name, r[0], r[1], err)
			}
			if !bytes.Equal(got, obj[r[0]:r[0]+r[1]]) {
				t.Errorf("%s: GetRange(%d, %d) returned %d bytes that differ from the object's", name, r[0], r[1], len(got))
			}
			if cap(got) != len(got) {
				// A caller appending to the range must not write into the blocks around it.
				t.Errorf("%s: GetRange(%d, %d) returned capacity %d for %d bytes", name, r[0], r[1], cap(got), len(got))
			}
		}
		if _, err := st.GetRange(context.Background(), "o", size-1, 2); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s: GetRange past the end: %v, want ErrOutOfRange", name, err)
		}
	}
}

// BenchmarkLocalGetRange reads 256 KiB ranges of a 16 MiB object written by Put, one after
// another, as the range cache's misses do when a consumer reads flush objects.
func BenchmarkLocalGetRange(b *testing.B) {
	st, err := NewLocal(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	const objSize, rangeSize = 16 << 20, 256 << 10
	obj := make([]byte, objSize)
	for i := range obj {
		obj[i] = byte(i)
	}
	if err := st.Put(context.Background(), "o", [][]byte{obj}, objSize); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rangeSize)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	off := int64(0)
	for b.Loop() {
		// Offsets not on a block edge, as extents inside a flush object are.
		if _, err := st.GetRange(context.Background(), "o", off+17, rangeSize); err != nil {
			b.Fatal(err)
		}
		off = (off + rangeSize) % (objSize - 2*rangeSize)
	}
	// The process's CPU (user and system) per read: what a broker spends, where ns/op also
	// counts the time the device takes, which CPU does not.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns this process's user and system CPU time so far, in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
