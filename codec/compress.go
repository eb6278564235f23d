package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression is the codec of a record batch (its attributes' low 3 bits).
type Compression int8

// The compression codecs of record batch v2.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

// String returns the codec's name as Kafka's compression.type spells it.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int8(c))
}

// zstdMaxWindow bounds the history a hostile zstd frame can make the decoder
// allocate. Kafka producers' default level uses 8 MiB at most.
const zstdMaxWindow = 64 << 20

// Pools of stream decoders: they are expensive to build (zstd especially)
// and hold no state between uses.
var (
	gzipReaders sync.Pool // *gzip.Reader
	lz4Readers  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdReaders sync.Pool // *zstd.Decoder, synchronous (no goroutines)
)

// xerialMagic opens snappy data framed as the Java client's xerial
// SnappyOutputStream writes it: magic, then version and min compatible
// version (int32 each), then chunks of (int32 length, snappy block).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// snappyMaxRatio bounds how much a snappy block can expand (64 bytes from a 3-byte copy).
const snappyMaxRatio = 22

// Decompress appends the decompressed form of src, compressed with c, to
// dst. It fails with ErrDecompressedTooLarge rather than append more than
// limit bytes, so a small hostile batch cannot expand into a huge allocation
// (a decompression bomb). Snappy input may be a raw block or xerial-framed.
func Decompress(c Compression, dst, src []byte, limit int) ([]byte, error) {
	var err error
	switch c {
	case CompressionNone:
		if len(src) > limit {
			return dst, fmt.Errorf("cannot copy %d uncompressed bytes: %w", len(src), ErrDecompressedTooLarge)
		}
		return append(dst, src...), nil
	case CompressionSnappy:
		if len(src) >= len(xerialMagic) && bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
			dst, err = decodeXerial(dst, src, limit)
		} else {
			dst, err = decodeSnappyBlock(dst, src, limit)
		}
	case CompressionGzip:
		dst, err = decodeGzip(dst, src, limit)
	case CompressionLZ4:
		r := lz4Readers.Get().(*lz4.Reader)
		r.Reset(bytes.NewReader(src))
		dst, err = readCapped(dst, r, limit)
		r.Reset(nil)
		lz4Readers.Put(r)
	case CompressionZstd:
		dst, err = decodeZstd(dst, src, limit)
	default:
		return dst, fmt.Errorf("cannot decompress %s: %w", c, ErrUnsupportedCompression)
	}
	if err != nil {
		return dst, fmt.Errorf("cannot decompress %d bytes of %s: %w", len(src), c, err)
	}
	return dst, nil
}

// readCapped appends all of r to dst, at most limit bytes.
func readCapped(dst []byte, r io.Reader, limit int) ([]byte, error) {
	start := len(dst)
	for {
		used := len(dst) - start
		if used > limit {
			return dst[:start], ErrDecompressedTooLarge
		}
		if cap(dst)-len(dst) < 512 {
			// Double, but never past one byte beyond the limit (that byte
			// tells a stream of exactly limit bytes from a longer one).
			n := max(4096, used)
			if rem := limit - used; n > rem {
				n = rem + 1
			}
			dst = slices.Grow(dst, n)
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			if len(dst)-start > limit {
				return dst[:start], ErrDecompressedTooLarge
			}
			return dst, nil
		}
		if err != nil {
			return dst[:start], fmt.Errorf("%w: %v", ErrCorruptBatch, err)
		}
	}
}

func decodeGzip(dst, src []byte, limit int) ([]byte, error) {
	r, _ := gzipReaders.Get().(*gzip.Reader)
	if r == nil {
		r = new(gzip.Reader)
	}
	defer gzipReaders.Put(r)
	if err := r.Reset(bytes.NewReader(src)); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
	}
	return readCapped(dst, r, limit)
}

// getZstd takes a decoder from zstdReaders, or builds one; put it back when done.
func getZstd() (*zstd.Decoder, error) {
	if d, _ := zstdReaders.Get().(*zstd.Decoder); d != nil {
		return d, nil
	}
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		return nil, fmt.Errorf("BUG: cannot create zstd decoder: %w", err)
	}
	return d, nil
}

func decodeZstd(dst, src []byte, limit int) ([]byte, error) {
	d, err := getZstd()
	if err != nil {
		return dst, err
	}
	defer zstdReaders.Put(d)
	if err := d.Reset(bytes.NewReader(src)); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
	}
	dst, err = readCapped(dst, d, limit)
	_ = d.Reset(nil) // drop the reference to src
	return dst, err
}

// decodeSnappyBlock decodes one raw snappy block; its header states the
// decoded size, checked before anything is allocated.
func decodeSnappyBlock(dst, src []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
	}
	if n > limit {
		return dst, ErrDecompressedTooLarge
	}
	// A snappy element of 3 bytes yields at most 64: a larger stated size is a lie, refused
	// before it is allocated.
	if n > snappyMaxRatio*len(src) {
		return dst, fmt.Errorf("%w: snappy block of %d bytes states %d decoded", ErrCorruptBatch, len(src), n)
	}
	start := len(dst)
	dst = grow(dst, n)
	if _, err := s2.Decode(dst[start:start+n], src); err != nil {
		return dst[:start], fmt.Errorf("%w: %v", ErrCorruptBatch, err)
	}
	return dst[:start+n], nil
}

func decodeXerial(dst, src []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderLen {
		return dst, fmt.Errorf("%w: xerial header truncated", ErrCorruptBatch)
	}
	start := len(dst)
	src = src[xerialHeaderLen:]
	for len(src) > 0 {
		if len(src) < 4 {
			return dst[:start], fmt.Errorf("%w: xerial chunk length truncated", ErrCorruptBatch)
		}
		size := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(size) > uint64(len(src)) {
			return dst[:start], fmt.Errorf("%w: xerial chunk of %d bytes with %d left", ErrCorruptBatch, size, len(src))
		}
		var err error
		if dst, err = decodeSnappyBlock(dst, src[:size], limit-(len(dst)-start)); err != nil {
			return dst[:start], err
		}
		src = src[size:]
	}
	return dst, nil
}

// grow makes room for n more bytes after len(dst).
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

// Compress appends src compressed with c to dst, the way producers write a
// batch's records (snappy as a raw block, lz4 as a frame). Tests, benchmarks
// and log compaction use it, not the produce path: apart from zstd's shared
// encoder it builds fresh encoders.
func Compress(c Compression, dst, src []byte) ([]byte, error) {
	switch c {
	case CompressionNone:
		return append(dst, src...), nil
	case CompressionSnappy:
		return append(dst, s2.EncodeSnappy(nil, src)...), nil
	case CompressionGzip:
		buf := bytes.NewBuffer(dst)
		w := gzip.NewWriter(buf)
		return closeWriter(buf, w, src)
	case CompressionLZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		return closeWriter(buf, w, src)
	case CompressionZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("cannot compress with %s: %w", c, ErrUnsupportedCompression)
}

func closeWriter(buf *bytes.Buffer, w io.WriteCloser, src []byte) ([]byte, error) {
	_, err := w.Write(src)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("cannot compress: %w", err)
	}
	return buf.Bytes(), nil
}

// zstdEncoder returns the one zstd encoder Compress shares: EncodeAll is safe
// for concurrent use, and building an encoder costs far more than a batch.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("BUG: cannot create zstd encoder: %w", err)
	}
	return enc, nil
})
