package segment

import (
	"strings"
	"testing"
	"time"

	"github.com/kafscale/kafscale/objstore"
)

func TestFlushKeyRoundTrips(t *testing.T) {
	at := time.UnixMilli(1_700_000_123_456)
	var g KeyGen
	for _, tc := range []struct {
		name string
		key  string
	}{
		{"FreeFunction", FlushKey(7, 42, at)},
		{"KeyGen", g.FlushKey(7, 42, at)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.HasPrefix(tc.key, "flush/7/00000000000000000042/") || len(tc.key) != len("flush/7/00000000000000000042/")+ulidLen {
				t.Fatalf("key %q has the wrong shape", tc.key)
			}
			if err := objstore.CheckKey(tc.key); err != nil {
				t.Fatal(err)
			}
			b, inc, ts, err := ParseFlushKey(tc.key)
			if err != nil || b != 7 || inc != 42 || !ts.Equal(at) {
				t.Fatalf("ParseFlushKey = %d, %d, %v, %v", b, inc, ts, err)
			}
		})
	}
}

// TestULIDEncodingMatchesSpec checks the time prefix against the example in the ULID spec.
func TestULIDEncodingMatchesSpec(t *testing.T) {
	if got := string(appendULID(nil, 1469918176385, [10]byte{})); got != "01ARYZ6S410000000000000000" {
		t.Fatalf("ULID = %s", got)
	}
	max := [10]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	if got := string(appendULID(nil, maxULIDTime, max)); got != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Fatalf("max ULID = %s", got)
	}
}

func TestKeyGenIsMonotonic(t *testing.T) {
	var g KeyGen
	base := time.UnixMilli(1_700_000_000_000)
	prev := ""
	for i := range 5000 {
		// Same millisecond many times, then a clock step back.
		at := base.Add(time.Duration(i/1000) * time.Millisecond)
		if i == 4000 {
			at = base
		}
		k := g.FlushKey(1, 1, at)
		if k <= prev {
			t.Fatalf("key %d %q not above previous %q", i, k, prev)
		}
		prev = k
	}
}

func TestIncr80CarriesAndOverflows(t *testing.T) {
	b := [10]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF}
	if !incr80(&b) || b != [10]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0} {
		t.Fatalf("carry: %v", b)
	}
	all := [10]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	if incr80(&all) {
		t.Fatal("overflow not reported")
	}
}

func TestParseFlushKeyRejectsOtherKeys(t *testing.T) {
	for _, key := range []string{
		"segments/x/1/00000000000000000010",
		"flush/1/2",
		"flush/x/00000000000000000001/01ARYZ6S410000000000000000",
		"flush/1/-1/01ARYZ6S410000000000000000",
		"flush/1/1/01ARYZ6S41000000000000000",    // 25 chars
		"flush/1/1/81ARYZ6S410000000000000000",   // time overflows 48 bits
		"flush/1/1/01ARYZ6S41000000000000000U",   // U is not Crockford
		"flush/1/1/01ARYZ6S410000000000000000/x", // extra part
	} {
		if _, _, _, err := ParseFlushKey(key); err == nil {
			t.Errorf("ParseFlushKey(%q) succeeded", key)
		}
	}
}

// TestSegmentKeysStartWithTheirPartitionPrefix: fsck finds a segment's partition by this
// prefix, so the two must agree.
func TestSegmentKeysStartWithTheirPartitionPrefix(t *testing.T) {
	id := [16]byte{0xab, 1}
	key := SegmentKey(id, 7, time.Now())
	if want := SegmentPartitionPrefix(id, 7); !strings.HasPrefix(key, want) || want != "segments/ab010000000000000000000000000000/7/" {
		t.Fatalf("segment key %q, partition prefix %q", key, want)
	}
}
