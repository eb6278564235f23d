package codec

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DecodeRequest decodes body (as returned by ParseRequestHeader) into the
// kmsg request for hdr's key and version.
//
// Aliasing: kmsg reads byte fields with a sub-slice of its input (capacity
// capped at the field's length), so a ProduceRequest's Records alias body,
// and thus the frame: they stay valid only as long as the frame buffer does.
// Strings (topic names, client ids) are copied. TestDecodeRequestAliasesRecords
// pins this down.
//
// kmsg tolerates trailing bytes after a complete body; so does this.
// DecodeRequest never panics: kmsg bounds its allocations by the bytes left,
// and a recover turns any panic it still hits into ErrMalformedRequest.
func DecodeRequest(hdr RequestHeader, body []byte) (req kmsg.Request, err error) {
	info, ok := lookupAPI(hdr.APIKey)
	if !ok {
		return nil, fmt.Errorf("cannot decode request with key %d: %w", hdr.APIKey, ErrUnknownAPIKey)
	}
	if hdr.APIVersion < 0 || hdr.APIVersion > info.max {
		return nil, fmt.Errorf("cannot decode %s request version %d (max %d): %w",
			kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, info.max, ErrUnsupportedVersion)
	}
	defer func() {
		if r := recover(); r != nil {
			decodePanics.Inc()
			req = nil
			err = fmt.Errorf("cannot decode %s request v%d: panic: %v: %w",
				kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, r, ErrMalformedRequest)
		}
	}()
	req = kmsg.RequestForKey(hdr.APIKey)
	req.SetVersion(hdr.APIVersion)
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("cannot decode %s request v%d (%d bytes): %v: %w",
			kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, len(body), err, ErrMalformedRequest)
	}
	return req, nil
}
