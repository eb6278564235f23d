package compact

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/kafscale/kafscale/codec"
)

// EntryBytes is the memory one KeyMap entry is counted at: a 16-byte key hash and an 8-byte
// offset, plus Go's map overhead (buckets, tophash, load factor), measured at about 40
// bytes and rounded up.
const EntryBytes = 48

// ErrFull is returned by KeyMap.AddBatch when the map holds MaxEntries keys and a batch has
// a key it does not hold yet.
var ErrFull = errors.New("compaction key map is full")

// KeyMap maps each record key seen to the offset of its latest record, as Kafka's cleaner's
// offset map: keys are kept as 16 bytes of their SHA-256, so the memory per key is fixed
// whatever the keys' size (two keys of 2^64 would collide with odds of about 2^-64). It
// holds at most MaxEntries keys. Not safe for concurrent use.
type KeyMap struct {
	m   map[[16]byte]int64
	max int
	// Last is the last offset added.
	Last int64
}

// NewKeyMap returns a map bounded to maxBytes of memory (EntryBytes per key, at least one).
func NewKeyMap(maxBytes int64) *KeyMap {
	n := max(int(maxBytes/EntryBytes), 1)
	return &KeyMap{m: make(map[[16]byte]int64), max: n, Last: -1}
}

// MaxEntries returns the most keys the map holds.
func (k *KeyMap) MaxEntries() int { return k.max }

// Len returns the keys held.
func (k *KeyMap) Len() int { return len(k.m) }

func hashKey(key []byte) [16]byte {
	s := sha256.Sum256(key)
	return [16]byte(s[:16])
}

// Latest returns the offset of key's latest record in the map.
func (k *KeyMap) Latest(key []byte) (int64, bool) {
	o, ok := k.m[hashKey(key)]
	return o, ok
}

// AddBatch records the offset of every keyed record of batch (control batches and keyless
// records are skipped). It returns ErrFull, having added the batch's records up to the first
// new key that did not fit: the caller stops indexing there and compacts only what lies
// before the segment this batch belongs to. Offsets may be added out of order only across
// calls for earlier offsets, which never happens: the caller walks the log forward.
func (k *KeyMap) AddBatch(batch []byte, maxDecompressed int) error {
	h, err := codec.ParseBatchHeader(batch)
	if err != nil {
		return err
	}
	if h.IsControl() {
		return nil
	}
	var full bool
	err = codec.ForEachRecord(batch, maxDecompressed, func(r *codec.Record) bool {
		if r.Key == nil {
			return true
		}
		hk := hashKey(r.Key)
		if _, ok := k.m[hk]; !ok && len(k.m) >= k.max {
			full = true
			return false
		}
		k.m[hk] = r.Offset
		k.Last = r.Offset
		return true
	})
	if err != nil {
		return fmt.Errorf("cannot index records of batch at offset %d: %w", h.BaseOffset, err)
	}
	if full {
		return ErrFull
	}
	return nil
}
