package objstore

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// partsReader reads the concatenation of byte slices without copying them into one buffer.
// It is an io.ReadSeeker for single PUTs (the SDK seeks back to sign and to retry) and an
// io.ReaderAt for the multipart uploader, which reads parts through io.SectionReaders from
// several goroutines: ReadAt uses no shared state and is safe for concurrent use; Read and
// Seek are not.
type partsReader struct {
	parts [][]byte
	ends  []int64 // ends[i] is the offset just past parts[i]
	size  int64
	pos   int64 // Read/Seek cursor
}

// newPartsReader returns a reader over parts; size must equal their total length.
func newPartsReader(parts [][]byte, size int64) *partsReader {
	ends := make([]int64, len(parts))
	var end int64
	for i, p := range parts {
		end += int64(len(p))
		ends[i] = end
	}
	if end != size {
		panic(fmt.Sprintf("BUG: parts hold %d bytes but size is %d", end, size))
	}
	return &partsReader{parts: parts, ends: ends, size: size}
}

// ReadAt implements io.ReaderAt.
func (r *partsReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("partsReader: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	// First part that ends after off.
	i := sort.Search(len(r.ends), func(i int) bool { return r.ends[i] > off })
	n := 0
	for ; i < len(r.parts) && n < len(p); i++ {
		start := r.ends[i] - int64(len(r.parts[i]))
		n += copy(p[n:], r.parts[i][off+int64(n)-start:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read implements io.Reader.
func (r *partsReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.ReadAt(p, r.pos)
	r.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil // report EOF on the next call, as most readers do
	}
	return n, err
}

// Seek implements io.Seeker.
func (r *partsReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("partsReader: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("partsReader: negative position")
	}
	r.pos = abs
	return abs, nil
}

// Len returns the number of unread bytes; the SDK uses it to size the request.
func (r *partsReader) Len() int {
	return int(max(r.size-r.pos, 0))
}
