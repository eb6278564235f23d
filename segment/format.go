// Package segment holds the flush-object format (batches of many partitions followed by a
// footer that indexes them), the builder and readers of that format, object key naming, and
// a cache of object byte ranges. The byte layout is documented in docs/object-format.md;
// change both together.
package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Format constants. A reader accepts exactly the versions it knows: a new version is needed
// for any change to the footer or trailer layout, and old readers reject it loudly.
const (
	// FormatVersion (1) is the version of objects without flags: every flush object and
	// merged segment.
	FormatVersion uint16 = 1
	// FormatVersionFlags (2) is version 1 with its flags field defined: an object with a
	// flag set is written in it, so that a reader knowing only version 1 rejects the object
	// rather than misreading it.
	FormatVersionFlags uint16 = 2
	// FlagCompacted marks a segment written by log compaction: its offsets may skip, between
	// chunks and inside them (docs/compaction.md), where any other object's are contiguous.
	FlagCompacted uint16 = 1 << 0
	knownFlags           = FlagCompacted
	// TrailerSize is the fixed size of the trailer, the last bytes of every object.
	TrailerSize = 16
	// MaxFooterLen bounds the footer a reader will fetch or decode (about 900,000 extents).
	MaxFooterLen = 64 << 20

	footerMagic      = "KSFI" // start of the footer ("KafScale footer index")
	trailerMagic     = "KSF1" // last 4 bytes of every object
	footerHeaderSize = 12     // magic, version, flags, extent count
	extentFixedSize  = 72     // an extent without its producer state
	footerMinSize    = footerHeaderSize + 4
)

// ErrCorrupt means the bytes are not a valid footer or trailer of this format.
var ErrCorrupt = errors.New("corrupt flush object")

// ErrUnsupportedVersion means the object was written in a format version this code cannot read.
var ErrUnsupportedVersion = errors.New("unsupported flush object format version")

// ErrShortTail means DecodeFooter was given fewer bytes than the footer and trailer occupy;
// the object may be fine. Fetch FooterLen+TrailerSize bytes (see TailNeeded) and retry.
var ErrShortTail = errors.New("object tail shorter than its footer")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Extent describes one partition's contiguous batches inside an object.
type Extent struct {
	TopicID       [16]byte
	Partition     int32
	LeaderEpoch   int32
	BaseOffset    int64 // first offset of the first batch
	LastOffset    int64 // last offset of the last batch
	Pos, Len      int64 // byte range in the object
	MaxTimestamp  int64
	Batches       int32
	ProducerState []byte // opaque delta, reserved (nil for now)
}

// Footer is the decoded index of an object.
type Footer struct {
	Version uint16
	Flags   uint16 // FlagCompacted; only in version 2
	Extents []Extent
	// FooterPos and FooterLen locate the footer (without the trailer) in the object, so a
	// reader that knows them can fetch it with one exact ranged GET (ReadFooterAt).
	FooterPos, FooterLen int64
}

// ObjectSize returns the size of the object the footer belongs to.
func (f *Footer) ObjectSize() int64 { return f.FooterPos + f.FooterLen + TrailerSize }

// Compacted reports whether the object is a segment written by log compaction.
func (f *Footer) Compacted() bool { return f.Flags&FlagCompacted != 0 }

// AppendFooter appends the footer indexing extents, then the trailer, to dst, in version 1
// without flags. Extents are written as given; the caller guarantees they are in object
// order with final Pos/Len.
func AppendFooter(dst []byte, extents []Extent) []byte { return AppendFooterFlags(dst, extents, 0) }

// AppendFooterFlags is AppendFooter with flags: none gives version 1, any gives version 2.
func AppendFooterFlags(dst []byte, extents []Extent, flags uint16) []byte {
	if flags&^knownFlags != 0 {
		panic(fmt.Sprintf("BUG: footer flags %#x, defined %#x", flags, knownFlags))
	}
	version := FormatVersion
	if flags != 0 {
		version = FormatVersionFlags
	}
	start := len(dst)
	dst = append(dst, footerMagic...)
	dst = binary.BigEndian.AppendUint16(dst, version)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(extents)))
	for i := range extents {
		e := &extents[i]
		dst = append(dst, e.TopicID[:]...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.Partition))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.LeaderEpoch))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.BaseOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.LastOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Pos))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Len))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.MaxTimestamp))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.Batches))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.ProducerState)))
		dst = append(dst, e.ProducerState...)
	}
	crc := crc32.Checksum(dst[start:], castagnoli)
	dst = binary.BigEndian.AppendUint32(dst, crc)
	footerLen := len(dst) - start
	if footerLen > MaxFooterLen {
		panic(fmt.Sprintf("BUG: footer of %d extents is %d bytes, above MaxFooterLen", len(extents), footerLen))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(footerLen))
	dst = binary.BigEndian.AppendUint32(dst, crc)
	dst = binary.BigEndian.AppendUint16(dst, version)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	return append(dst, trailerMagic...)
}

// trailer is the decoded fixed trailer.
type trailer struct {
	footerLen int64
	footerCRC uint32
	version   uint16
	flags     uint16
}

// checkVersion accepts version 1 without flags and version 2 with defined flags.
func checkVersion(where string, v, flags uint16) error {
	switch v {
	case FormatVersion:
		if flags != 0 {
			return fmt.Errorf("%w: %s flags %#x set, none defined in version 1", ErrCorrupt, where, flags)
		}
	case FormatVersionFlags:
		if flags&^knownFlags != 0 {
			return fmt.Errorf("%w %d: %s flags %#x, this code knows %#x", ErrUnsupportedVersion, v, where, flags, knownFlags)
		}
	default:
		return fmt.Errorf("%w %d in %s (this code reads %d and %d)", ErrUnsupportedVersion, v, where, FormatVersion, FormatVersionFlags)
	}
	return nil
}

// parseTrailer decodes the last TrailerSize bytes of tail.
func parseTrailer(tail []byte) (trailer, error) {
	if len(tail) < TrailerSize {
		return trailer{}, fmt.Errorf("%w: %d bytes cannot hold the %d-byte trailer", ErrCorrupt, len(tail), TrailerSize)
	}
	t := tail[len(tail)-TrailerSize:]
	if string(t[12:16]) != trailerMagic {
		return trailer{}, fmt.Errorf("%w: trailer magic %q, want %q", ErrCorrupt, t[12:16], trailerMagic)
	}
	v, flags := binary.BigEndian.Uint16(t[8:10]), binary.BigEndian.Uint16(t[10:12])
	if err := checkVersion("trailer", v, flags); err != nil {
		return trailer{}, err
	}
	tr := trailer{footerLen: int64(binary.BigEndian.Uint32(t[0:4])), footerCRC: binary.BigEndian.Uint32(t[4:8]), version: v, flags: flags}
	if tr.footerLen < footerMinSize || tr.footerLen > MaxFooterLen {
		return trailer{}, fmt.Errorf("%w: footer length %d outside [%d, %d]", ErrCorrupt, tr.footerLen, footerMinSize, MaxFooterLen)
	}
	return tr, nil
}

// TailNeeded returns how many bytes from the end of an object DecodeFooter needs, judged
// from its last TrailerSize bytes (tail may be longer).
func TailNeeded(tail []byte) (int64, error) {
	tr, err := parseTrailer(tail)
	if err != nil {
		return 0, err
	}
	return tr.footerLen + TrailerSize, nil
}

// DecodeFooter decodes and verifies the footer of an object of objSize bytes from objTail, the
// object's last bytes (at least its footer and trailer). Hostile input yields an error, never
// a panic, and allocation stays proportional to len(objTail). The returned extents do not
// alias objTail.
func DecodeFooter(objTail []byte, objSize int64) (Footer, error) {
	if int64(len(objTail)) > objSize {
		return Footer{}, fmt.Errorf("cannot decode footer: tail of %d bytes longer than object of %d", len(objTail), objSize)
	}
	tr, err := parseTrailer(objTail)
	if err != nil {
		return Footer{}, fmt.Errorf("cannot decode footer: %w", err)
	}
	if tr.footerLen > objSize-TrailerSize {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: footer length %d exceeds object of %d bytes", ErrCorrupt, tr.footerLen, objSize)
	}
	if tr.footerLen > int64(len(objTail))-TrailerSize {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: have %d bytes, need %d", ErrShortTail, len(objTail), tr.footerLen+TrailerSize)
	}
	footerPos := objSize - TrailerSize - tr.footerLen
	end := len(objTail) - TrailerSize
	b := objTail[end-int(tr.footerLen) : end]

	body, stored := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc := crc32.Checksum(body, castagnoli); crc != stored || crc != tr.footerCRC {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: crc32c %#08x, footer says %#08x, trailer %#08x", ErrCorrupt, crc, stored, tr.footerCRC)
	}
	if string(body[0:4]) != footerMagic {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: footer magic %q, want %q", ErrCorrupt, body[0:4], footerMagic)
	}
	v, flags := binary.BigEndian.Uint16(body[4:6]), binary.BigEndian.Uint16(body[6:8])
	if err := checkVersion("footer", v, flags); err != nil {
		return Footer{}, fmt.Errorf("cannot decode footer: %w", err)
	}
	if v != tr.version || flags != tr.flags {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: footer version %d flags %#x, trailer version %d flags %#x", ErrCorrupt, v, flags, tr.version, tr.flags)
	}
	count := binary.BigEndian.Uint32(body[8:12])
	rest := body[footerHeaderSize:]
	// Bound the count by the bytes present before allocating for it.
	if uint64(count) > uint64(len(rest)/extentFixedSize) {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: %d extents cannot fit in %d bytes", ErrCorrupt, count, len(rest))
	}
	f := Footer{Version: v, Flags: flags, FooterPos: footerPos, FooterLen: tr.footerLen, Extents: make([]Extent, count)}
	var prevEnd int64
	for i := range f.Extents {
		if len(rest) < extentFixedSize {
			return Footer{}, fmt.Errorf("cannot decode footer: %w: extent %d truncated", ErrCorrupt, i)
		}
		e := &f.Extents[i]
		copy(e.TopicID[:], rest[0:16])
		e.Partition = int32(binary.BigEndian.Uint32(rest[16:20]))
		e.LeaderEpoch = int32(binary.BigEndian.Uint32(rest[20:24]))
		e.BaseOffset = int64(binary.BigEndian.Uint64(rest[24:32]))
		e.LastOffset = int64(binary.BigEndian.Uint64(rest[32:40]))
		e.Pos = int64(binary.BigEndian.Uint64(rest[40:48]))
		e.Len = int64(binary.BigEndian.Uint64(rest[48:56]))
		e.MaxTimestamp = int64(binary.BigEndian.Uint64(rest[56:64]))
		e.Batches = int32(binary.BigEndian.Uint32(rest[64:68]))
		psLen := binary.BigEndian.Uint32(rest[68:72])
		rest = rest[extentFixedSize:]
		if uint64(psLen) > uint64(len(rest)) {
			return Footer{}, fmt.Errorf("cannot decode footer: %w: extent %d producer state of %d bytes beyond footer", ErrCorrupt, i, psLen)
		}
		if psLen > 0 {
			e.ProducerState = append([]byte(nil), rest[:psLen]...)
		}
		rest = rest[psLen:]
		if err := checkExtent(e, prevEnd, footerPos); err != nil {
			return Footer{}, fmt.Errorf("cannot decode footer: %w: extent %d: %w", ErrCorrupt, i, err)
		}
		prevEnd = e.Pos + e.Len
	}
	if len(rest) != 0 {
		return Footer{}, fmt.Errorf("cannot decode footer: %w: %d bytes after the last extent", ErrCorrupt, len(rest))
	}
	return f, nil
}

// checkExtent verifies that e lies in the data region after the previous extent and that its
// counters are sane, so readers can trust Pos/Len for ranged GETs.
func checkExtent(e *Extent, prevEnd, footerPos int64) error {
	switch {
	case e.Pos < prevEnd:
		return fmt.Errorf("position %d overlaps or precedes the previous extent ending at %d", e.Pos, prevEnd)
	case e.Len < 0 || e.Len > footerPos-e.Pos:
		return fmt.Errorf("range [%d, +%d) outside the data region [0, %d)", e.Pos, e.Len, footerPos)
	case e.Batches <= 0:
		return fmt.Errorf("batch count %d", e.Batches)
	case e.BaseOffset < 0 || e.LastOffset < e.BaseOffset:
		return fmt.Errorf("offsets [%d, %d]", e.BaseOffset, e.LastOffset)
	case e.Partition < 0 || e.LeaderEpoch < 0:
		return fmt.Errorf("partition %d, leader epoch %d", e.Partition, e.LeaderEpoch)
	}
	return nil
}
