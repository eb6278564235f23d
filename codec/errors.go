package codec

import (
	"errors"
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// Sentinel errors; callers match them with errors.Is and turn them into
// Kafka error codes with ErrorCode.
var (
	// ErrUnknownAPIKey means the request's API key is not one kmsg knows.
	ErrUnknownAPIKey = errors.New("unknown api key")
	// ErrUnsupportedVersion means the request's version is outside kmsg's range.
	ErrUnsupportedVersion = errors.New("unsupported api version")
	// ErrMalformedRequest means a request header or body is truncated or garbage.
	ErrMalformedRequest = errors.New("malformed request")
	// ErrUnsupportedMagic means a batch is not record batch v2.
	ErrUnsupportedMagic = errors.New("unsupported record batch magic")
	// ErrCorruptBatch means a batch's framing or CRC is wrong.
	ErrCorruptBatch = errors.New("corrupt record batch")
	// ErrInvalidRecord means a batch's counts or a record's encoding are inconsistent.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrMissingKey means a record for a compacted topic has no key (Kafka: INVALID_RECORD).
	ErrMissingKey = fmt.Errorf("record without a key: %w", ErrInvalidRecord)
	// ErrUnsupportedCompression means a batch names a compression codec that does not exist.
	ErrUnsupportedCompression = errors.New("unsupported compression codec")
	// ErrDecompressedTooLarge means decompressing would exceed the caller's cap.
	ErrDecompressedTooLarge = errors.New("decompressed records exceed limit")
)

// Kafka error codes used by ErrorCode (values from the Kafka protocol).
const (
	errCodeUnknownServerError         int16 = -1
	errCodeCorruptMessage             int16 = 2
	errCodeMessageTooLarge            int16 = 10
	errCodeUnsupportedForMessageFmt   int16 = 43
	errCodeUnsupportedVersion         int16 = 35
	errCodeInvalidRequest             int16 = 42
	errCodeUnsupportedCompressionType int16 = 76
	errCodeInvalidRecord              int16 = 87
)

// ErrorCode maps an error from this package to the Kafka error code a broker
// should answer with; 0 for nil and UNKNOWN_SERVER_ERROR (-1) for anything else.
func ErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUnsupportedVersion), errors.Is(err, ErrUnknownAPIKey):
		return errCodeUnsupportedVersion
	case errors.Is(err, ErrMalformedRequest):
		return errCodeInvalidRequest
	case errors.Is(err, ErrUnsupportedMagic):
		return errCodeUnsupportedForMessageFmt
	case errors.Is(err, ErrCorruptBatch):
		return errCodeCorruptMessage
	case errors.Is(err, ErrInvalidRecord):
		return errCodeInvalidRecord
	case errors.Is(err, ErrUnsupportedCompression):
		return errCodeUnsupportedCompressionType
	case errors.Is(err, ErrDecompressedTooLarge):
		return errCodeMessageTooLarge
	}
	return errCodeUnknownServerError
}

// decodePanics counts panics recovered while decoding hostile input; any
// non-zero value is a bug in kmsg or here worth a fuzz corpus entry.
var decodePanics = metrics.NewCounter("kafscale_codec_decode_panics_total")
