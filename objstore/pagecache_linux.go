//go:build linux

package objstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropPageCache tells the kernel that f's bytes in [off, off+n) will not be read again soon
// (n == 0: to the end of the file), so it can free their page-cache pages now. Clean pages
// go at once; dirty ones are only dropped once written back, so writers call it after
// Sync. It is advice: an error changes only what stays cached.
func dropPageCache(f *os.File, off, n int64) error {
	return withFD(f, func(fd int) error { return unix.Fadvise(fd, off, n, unix.FADV_DONTNEED) })
}

// withFD runs fn on f's descriptor.
func withFD(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

const (
	// directAlign is the alignment O_DIRECT asks of buffers, offsets and lengths: a page,
	// which covers every logical block size in use.
	directAlign = 4096
	// directChunk is how much one O_DIRECT write carries.
	directChunk = 2 << 20
)

// directBufs holds aligned directChunk-byte buffers for writeParts.
var directBufs = sync.Pool{New: func() any {
	raw := make([]byte, directChunk+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&raw[0]))%directAlign)) % directAlign
	b := raw[skip : skip+directChunk : skip+directChunk]
	return &b
}}

// writeParts writes parts to f, a new empty file. With direct set it bypasses the page
// cache: the parts are copied into aligned chunks written with O_DIRECT, the last one
// padded to the alignment and the padding cut off again by Truncate. Writing through the
// page cache costs a page-cache page per 4 KiB (allocated, copied into, tracked by ext4,
// written back, dropped), which at maximum produce rate was a third of the broker's CPU;
// a direct write hands the device the chunk as it is. When the file system refuses
// O_DIRECT (EINVAL from fcntl or from a write: tmpfs before Linux 6.6, some FUSE file
// systems) the parts are written again through the page cache and the error wraps
// errNoDirect, so the caller stops asking; durability is the same once it syncs.
func writeParts(f *os.File, parts [][]byte, direct bool) error {
	if !direct {
		return writeBuffered(f, parts)
	}
	err := writeDirect(f, parts)
	if err == nil || !errors.Is(err, unix.EINVAL) {
		return err
	}
	if err := setDirect(f, false); err != nil {
		return fmt.Errorf("cannot turn O_DIRECT off again: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	if err := writeBuffered(f, parts); err != nil {
		return err
	}
	return fmt.Errorf("%w (%v)", errNoDirect, err)
}

func writeDirect(f *os.File, parts [][]byte) error {
	if err := setDirect(f, true); err != nil {
		return fmt.Errorf("cannot set O_DIRECT: %w", err)
	}
	bp := directBufs.Get().(*[]byte)
	defer directBufs.Put(bp)
	buf := *bp
	var size int64
	n := 0
	for _, p := range parts {
		size += int64(len(p))
		for len(p) > 0 {
			c := copy(buf[n:], p)
			n += c
			p = p[c:]
			if n == len(buf) {
				if _, err := f.Write(buf); err != nil {
					return err
				}
				n = 0
			}
		}
	}
	if n > 0 {
		padded := (n + directAlign - 1) / directAlign * directAlign
		clear(buf[n:padded])
		if _, err := f.Write(buf[:padded]); err != nil {
			return err
		}
		if padded != n {
			if err := f.Truncate(size); err != nil {
				return err
			}
		}
	}
	return nil
}

// setDirect turns O_DIRECT on or off for f.
func setDirect(f *os.File, on bool) error {
	return withFD(f, func(fd int) error {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
		return err
	})
}

// directReadKeep is the waste up to which readDirect returns its aligned buffer as it is:
// a range read with O_DIRECT spans whole blocks, up to 2 x directAlign more than asked,
// and a range smaller than directReadKeep x that is copied into a buffer of its own, so
// that what a caller keeps (the broker's range cache, bounded by --cache-bytes) holds at
// most 1/directReadKeep more than the bytes it counts.
const directReadKeep = 32

// readRange reads [off, off+n) of f, a file of size bytes. With direct set it reads the
// enclosing aligned blocks with O_DIRECT, straight from the device into an aligned
// buffer: through the page cache each range read cost a page-cache page per 4 KiB
// (allocated, filled, copied out, then dropped so as not to cache it twice), which at the
// maximum fetch rate from flush objects was three quarters of the broker's CPU
// (docs/benchmarks.md, "Profiles"). When the file system refuses O_DIRECT the range is
// read through the page cache, its pages dropped, and the error wraps errNoDirect, as
// writeParts does.
func readRange(f *os.File, off, n, size int64, direct bool) ([]byte, error) {
	if !direct {
		return readBuffered(f, off, n, size)
	}
	data, err := readDirect(f, off, n)
	if err == nil || !errors.Is(err, unix.EINVAL) {
		return data, err
	}
	if err := setDirect(f, false); err != nil {
		return nil, fmt.Errorf("cannot turn O_DIRECT off again: %w", err)
	}
	data, rerr := readBuffered(f, off, n, size)
	if rerr != nil {
		return nil, rerr
	}
	return data, fmt.Errorf("%w (%v)", errNoDirect, err)
}

// readBuffered reads [off, off+n) of f through the page cache, then drops the range's
// pages: whoever asked for it caches what it needs.
func readBuffered(f *os.File, off, n, size int64) ([]byte, error) {
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && off+n == size) {
		return nil, err
	}
	// Advice only: an error changes what stays cached, not what was read.
	_ = dropPageCache(f, off, n)
	return buf, nil
}

// readDirect reads [off, off+n) of f, which holds them all, with O_DIRECT.
func readDirect(f *os.File, off, n int64) ([]byte, error) {
	if err := setDirect(f, true); err != nil {
		return nil, fmt.Errorf("cannot set O_DIRECT: %w", err)
	}
	start := off &^ (directAlign - 1)
	end := (off + n + directAlign - 1) &^ (directAlign - 1)
	buf := alignedBuf(int(end - start))
	// The last block may run past the end of the file: the read then stops short at the
	// end, which lies at or after off+n. A short read before that would leave an
	// unaligned offset to continue from, so the loop stops once off+n is read.
	need := int(off + n - start)
	got := 0
	err := withFD(f, func(fd int) error {
		for got < need {
			m, err := unix.Pread(fd, buf[got:], start+int64(got))
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				return err
			case m == 0:
				return fmt.Errorf("read %d of the %d bytes of range [%d, %d): %w", got, need, start, start+int64(need), io.ErrUnexpectedEOF)
			}
			got += m
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	data := buf[off-start : off-start+n : off-start+n]
	if int64(len(buf))-n > n/directReadKeep {
		own := make([]byte, n)
		copy(own, data)
		data = own
	}
	return data, nil
}

// alignedBuf returns a buffer of n bytes that starts on a directAlign boundary.
func alignedBuf(n int) []byte {
	// Large allocations (over 32 KiB) start on a page of the Go heap, which is usually
	// aligned already; the spare block is then not needed.
	if n > 32<<10 {
		if b := make([]byte, n); uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign == 0 {
			return b
		}
	}
	raw := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&raw[0]))%directAlign)) % directAlign
	return raw[skip : skip+n : skip+n]
}
