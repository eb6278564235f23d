package protofuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// internalCodes are error codes that, from a healthy single broker, mean something broke
// inside it rather than that the request was bad: stored data it cannot read
// (KAFKA_STORAGE_ERROR) or an error it did not map (UNKNOWN_SERVER_ERROR).
var internalCodes = map[int16]bool{kerr.KafkaStorageError.Code: true, kerr.UnknownServerError.Code: true}

// internalError returns the first ErrorCode field anywhere in resp that holds an internal
// error code, with its path ("" if none).
func internalError(resp kmsg.Response) (string, int16) {
	return scanCodes(reflect.ValueOf(resp).Elem(), "")
}

func scanCodes(v reflect.Value, path string) (string, int16) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			if f.Name == "ErrorCode" && fv.Kind() == reflect.Int16 && internalCodes[int16(fv.Int())] {
				where := path + "." + f.Name
				if m, ok := v.Addr().Interface().(interface{ GetErrorMessage() *string }); ok && m.GetErrorMessage() != nil {
					where += fmt.Sprintf(" (message %q)", *m.GetErrorMessage())
				} else if mv := v.FieldByName("ErrorMessage"); mv.IsValid() && mv.Kind() == reflect.Pointer && !mv.IsNil() {
					where += fmt.Sprintf(" (message %q)", mv.Elem().String())
				}
				return where, int16(fv.Int())
			}
			if p, c := scanCodes(fv, path+"."+f.Name); p != "" {
				return p, c
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				if p, c := scanCodes(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p, c
				}
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return scanCodes(v.Elem(), path)
		}
	}
	return "", 0
}

// maxDecompressed bounds what a fetched batch may decompress to: far above
// max.message.bytes (1 MiB by default), far below a bomb.
const maxDecompressed = 64 << 20

// checkFetched checks that every whole batch a Fetch answered with is one a consumer can
// decode: v2, a correct CRC, records that decompress within maxDecompressed and parse
// to the count the batch states. The broker validates batches on produce, so anything else
// is garbage it stored.
func checkFetched(resp *kmsg.FetchResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			b := p.RecordBatches
			for len(b) >= 61 {
				size := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
				if size < 61 || size > len(b) {
					break // a partial batch at the end of a fetch is allowed
				}
				if err := checkBatch(b[:size]); err != nil {
					return fmt.Errorf("fetch of %s-%d returned a batch at offset %d a consumer cannot decode: %w",
						t.Topic, p.Partition, int64(binary.BigEndian.Uint64(b)), err)
				}
				b = b[size:]
			}
		}
	}
	return nil
}

func checkBatch(raw []byte) error {
	if raw[16] != 2 {
		return fmt.Errorf("magic %d", raw[16])
	}
	if got, want := crc32.Checksum(raw[21:], castagnoli), binary.BigEndian.Uint32(raw[17:]); got != want {
		return fmt.Errorf("crc %#x, header says %#x", got, want)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(raw); err != nil {
		return err
	}
	recs, err := decompress(int(rb.Attributes&7), rb.Records)
	if err != nil {
		return err
	}
	for i := range rb.NumRecords {
		r := kbin.Reader{Src: recs}
		n := int(r.Varint())
		if !r.Ok() || n < 0 || n > len(r.Src) {
			return fmt.Errorf("record %d of %d: length %d past the end", i, rb.NumRecords, n)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(recs[:len(recs)-len(r.Src)+n]); err != nil {
			return fmt.Errorf("record %d of %d: %w", i, rb.NumRecords, err)
		}
		recs = r.Src[n:]
	}
	if len(recs) != 0 {
		return fmt.Errorf("%d bytes after the last of %d records", len(recs), rb.NumRecords)
	}
	return nil
}

func decompress(codec int, p []byte) ([]byte, error) {
	var r io.Reader
	switch codec {
	case codecNone:
		return p, nil
	case codecGzip:
		gr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = gr
	case codecSnappy:
		r = s2.NewReader(bytes.NewReader(p)) // xerial framing is handled below
		if out, err := s2.Decode(nil, p); err == nil {
			return bounded(out)
		}
		if out, err := xerial(p); err == nil {
			return bounded(out)
		}
	case codecLZ4:
		r = lz4.NewReader(bytes.NewReader(p))
	case codecZstd:
		zr, err := zstd.NewReader(bytes.NewReader(p), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressed))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("compression codec %d", codec)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("cannot decompress (codec %d): %w", codec, err)
	}
	return bounded(out)
}

func bounded(out []byte) ([]byte, error) {
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("records decompress to more than %d bytes", maxDecompressed)
	}
	return out, nil
}

// xerial decodes snappy in the xerial framing the Java client uses.
func xerial(p []byte) ([]byte, error) {
	const magic = "\x82SNAPPY\x00"
	if len(p) < 16 || string(p[:8]) != magic {
		return nil, fmt.Errorf("not xerial snappy")
	}
	p = p[16:]
	var out []byte
	for len(p) >= 4 {
		n := int(binary.BigEndian.Uint32(p))
		p = p[4:]
		if n > len(p) {
			return nil, fmt.Errorf("xerial chunk of %d bytes past the end", n)
		}
		d, err := s2.Decode(nil, p[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
		if len(out) > maxDecompressed {
			return out, nil
		}
		p = p[n:]
	}
	return out, nil
}
