//go:build !linux

package objstore

import (
	"errors"
	"io"
	"os"
)

// dropPageCache has no portable equivalent outside Linux (posix_fadvise is not in Go's
// syscall package for the other systems this builds on); objects stay in their page cache
// there, which costs memory the kernel can reclaim, not correctness.
func dropPageCache(*os.File, int64, int64) error { return nil }

// writeParts writes parts to f through the page cache (O_DIRECT is Linux's).
func writeParts(f *os.File, parts [][]byte, _ bool) error { return writeBuffered(f, parts) }

// readRange reads [off, off+n) of f, a file of size bytes, through the page cache.
func readRange(f *os.File, off, n, size int64, _ bool) ([]byte, error) {
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && off+n == size) {
		return nil, err
	}
	return buf, nil
}
