package segment

import (
	"context"
	"errors"
	"fmt"

	"github.com/kafscale/kafscale/objstore"
)

// FooterReadSize is how many bytes ReadFooter asks for first: enough for the footer and
// trailer of an object of several hundred extents, so one GET usually suffices.
const FooterReadSize = 64 << 10

// ReadFooter fetches the footer with one suffix GET (a second if the footer is larger than the
// first guess) and verifies its checksum.
func ReadFooter(ctx context.Context, st objstore.Store, key string) (Footer, error) {
	tail, size, err := st.GetSuffix(ctx, key, FooterReadSize)
	if err != nil {
		return Footer{}, fmt.Errorf("cannot read footer of %s: %w", key, err)
	}
	need, err := TailNeeded(tail)
	if err != nil {
		return Footer{}, fmt.Errorf("cannot read footer of %s (%d bytes): %w", key, size, err)
	}
	if need > int64(len(tail)) {
		if need > size {
			return Footer{}, fmt.Errorf("cannot read footer of %s: %w: footer and trailer of %d bytes exceed object of %d", key, ErrCorrupt, need, size)
		}
		// Fetch only the missing head of the footer and prepend it.
		head, err := st.GetRange(ctx, key, size-need, need-int64(len(tail)))
		if err != nil {
			return Footer{}, fmt.Errorf("cannot read footer of %s: %w", key, err)
		}
		tail = append(head, tail...)
	}
	f, err := DecodeFooter(tail, size)
	if err != nil {
		return Footer{}, fmt.Errorf("cannot read footer of %s: %w", key, err)
	}
	return f, nil
}

// ReadFooterAt fetches the footer with one ranged GET when its position is already known
// (from the object's metadata entry), and verifies it against the trailer.
func ReadFooterAt(ctx context.Context, st objstore.Store, key string, footerPos, footerLen int64) (Footer, error) {
	if footerPos < 0 || footerLen < footerMinSize || footerLen > MaxFooterLen {
		return Footer{}, fmt.Errorf("cannot read footer of %s: position %d, length %d out of bounds", key, footerPos, footerLen)
	}
	tail, err := st.GetRange(ctx, key, footerPos, footerLen+TrailerSize)
	if err != nil {
		return Footer{}, fmt.Errorf("cannot read footer of %s at %d: %w", key, footerPos, err)
	}
	f, err := DecodeFooter(tail, footerPos+footerLen+TrailerSize)
	if err == nil && f.FooterLen != footerLen {
		err = fmt.Errorf("%w: trailer says footer length %d, metadata %d", ErrCorrupt, f.FooterLen, footerLen)
	}
	if err != nil {
		if errors.Is(err, ErrShortTail) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err) // the metadata's length disagrees with the object
		}
		return Footer{}, fmt.Errorf("cannot read footer of %s at %d: %w", key, footerPos, err)
	}
	return f, nil
}

// ReadExtent returns the batches of extent e of object key with one ranged GET.
func ReadExtent(ctx context.Context, st objstore.Store, key string, e Extent) ([]byte, error) {
	b, err := st.GetRange(ctx, key, e.Pos, e.Len)
	if err != nil {
		return nil, fmt.Errorf("cannot read extent of partition %d at [%d, +%d) of %s: %w", e.Partition, e.Pos, e.Len, key, err)
	}
	return b, nil
}
