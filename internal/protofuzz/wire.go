package protofuzz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientID is the client id of every fuzzed request that is not mutated.
const clientID = "kfuzz"

// maxResponseBytes bounds a response frame the fuzzer reads; a larger size is a finding
// (no request it sends asks for that much).
const maxResponseBytes = 256 << 20

// Encode returns req as one request frame: size, header v1 (v2, with an empty tag section,
// at flexible versions), body.
func Encode(req kmsg.Request, corr int32) []byte {
	id := clientID
	b := make([]byte, 4, 256)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &id)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// header is what a request frame's header says, read back from the bytes sent (which may
// have been mutated).
type header struct {
	key, version int16
	corr         int32
}

// parseHeader reads key, version and correlation id from a frame (with its size prefix).
func parseHeader(frame []byte) (header, bool) {
	if len(frame) < 12 {
		return header{}, false
	}
	return header{
		key:     int16(binary.BigEndian.Uint16(frame[4:])),
		version: int16(binary.BigEndian.Uint16(frame[6:])),
		corr:    int32(binary.BigEndian.Uint32(frame[8:])),
	}, true
}

// conn is one connection to the broker; used by one goroutine.
type conn struct {
	nc net.Conn
}

func dial(addr string, timeout time.Duration) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("cannot dial %s: %w", addr, err)
	}
	return &conn{nc: nc}, nil
}

func (c *conn) close() { _ = c.nc.Close() }

func (c *conn) write(frame []byte, timeout time.Duration) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.nc.Write(frame)
	return err
}

// errTimeout is a read that found no complete response before its deadline.
var errTimeout = errors.New("no response before the deadline")

// errClosed is a connection the broker closed.
var errClosed = errors.New("connection closed by the broker")

// readFrame reads one response frame (without its size) before deadline.
func (c *conn) readFrame(deadline time.Time) ([]byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, classify(err)
	}
	n := int64(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 || n > maxResponseBytes {
		return nil, fmt.Errorf("response frame size %d out of range [4, %d]", n, maxResponseBytes)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil, classify(err)
	}
	return body, nil
}

func classify(err error) error {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return errTimeout
	}
	return fmt.Errorf("%w: %v", errClosed, err)
}

// decodeResponse decodes body (a response frame after its size) as the response to a
// request of key and version with correlation id corr. Everything must be consumed: the
// response re-encoded by kmsg has exactly the length received.
func decodeResponse(body []byte, key, version int16, corr int32) (kmsg.Response, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("response of %d bytes has no correlation id", len(body))
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("response has correlation id %d, want %d", got, corr)
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, fmt.Errorf("response to unknown api key %d", key)
	}
	req.SetVersion(version)
	resp := req.ResponseKind()
	resp.SetVersion(version)
	body = body[4:]
	// ApiVersions responses keep header v0 at flexible versions (KIP-511).
	if resp.IsFlexible() && key != int16(kmsg.ApiVersions) {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		if err := r.Complete(); err != nil {
			return nil, fmt.Errorf("cannot read the response header's tags: %w", err)
		}
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("cannot decode %s v%d response: %w", kmsg.NameForKey(key), version, err)
	}
	if n := len(resp.AppendTo(nil)); n != len(body) {
		return nil, fmt.Errorf("%s v%d response has %d bytes, but what kmsg decoded from it re-encodes to %d",
			kmsg.NameForKey(key), version, len(body), n)
	}
	return resp, nil
}
