//go:build !linux

package objstore

import (
	"errors"
	"os"
)

// dropPageCache has no portable equivalent outside Linux (posix_fadvise is not in Go's
// syscall package for the other systems this builds on); objects stay in their page cache
// there, which costs memory the kernel can reclaim, not correctness.
func dropPageCache(*os.File, int64, int64) error { return nil }

// errNoDirect reports that the file system refused O_DIRECT; never returned here.
var errNoDirect = errors.New("the file system refuses O_DIRECT")

// writeParts writes parts to f through the page cache (O_DIRECT is Linux's).
func writeParts(f *os.File, parts [][]byte, _ bool) error {
	for _, p := range parts {
		if _, err := f.Write(p); err != nil {
			return err
		}
	}
	return nil
}
