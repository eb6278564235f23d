package codec

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeMapsEachSentinel(t *testing.T) {
	tests := []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{fmt.Errorf("wrapped: %w", ErrCorruptBatch), 2},
		{ErrUnsupportedMagic, 43},
		{ErrUnsupportedVersion, 35},
		{ErrUnknownAPIKey, 35},
		{ErrMalformedRequest, 42},
		{ErrInvalidRecord, 87},
		{ErrUnsupportedCompression, 76},
		{ErrDecompressedTooLarge, 10},
		{errors.New("other"), -1},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.want {
			t.Errorf("ErrorCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
