package compact

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafscale/kafscale/codec"
)

// rec is a test record: a nil key or value is null.
type rec struct{ key, value []byte }

func kv(k, v string) rec { return rec{[]byte(k), []byte(v)} }
func tomb(k string) rec  { return rec{key: []byte(k)} }

// buildBatch encodes recs as one record batch v2 at base offset base with codec c, with
// kmsg (independently of the codec package), CRC32C included.
func buildBatch(t *testing.T, base int64, c codec.Compression, recs ...rec) []byte {
	t.Helper()
	var body []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: r.key, Value: r.value}
		enc := kr.AppendTo(nil)[1:] // Length 0 encodes as one byte: drop it
		body = binary.AppendVarint(body, int64(len(enc)))
		body = append(body, enc...)
	}
	if c != codec.CompressionNone {
		var err error
		if body, err = codec.Compress(c, nil, body); err != nil {
			t.Fatal(err)
		}
	}
	rb := kmsg.RecordBatch{
		FirstOffset: base, Length: int32(codec.BatchHeaderLen - 12 + len(body)), PartitionLeaderEpoch: 3,
		Magic: 2, Attributes: int16(c), LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: 1000, MaxTimestamp: 1000 + int64(len(recs)-1),
		ProducerID: 7, ProducerEpoch: 1, FirstSequence: 11, NumRecords: int32(len(recs)), Records: body,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

type got struct {
	offset int64
	key    string
	value  *string
}

// readAll validates every batch of data (CRC included) and returns its records.
func readAll(t *testing.T, data []byte) ([]got, []codec.BatchHeader) {
	t.Helper()
	var out []got
	var hs []codec.BatchHeader
	for len(data) > 0 {
		batch, rest, err := codec.NextBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		data = rest
		h, err := codec.ValidateBatch(batch)
		if err != nil {
			t.Fatalf("rebuilt batch does not validate: %v", err)
		}
		hs = append(hs, h)
		err = codec.ForEachRecord(batch, 1<<20, func(r *codec.Record) bool {
			g := got{offset: r.Offset, key: string(r.Key)}
			if r.Value != nil {
				v := string(r.Value)
				g.value = &v
			}
			out = append(out, g)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, hs
}

func index(t *testing.T, m *KeyMap, batches ...[]byte) {
	t.Helper()
	for _, b := range batches {
		if err := m.AddBatch(b, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
}

func show(g []got) string {
	s := ""
	for _, r := range g {
		v := "null"
		if r.value != nil {
			v = *r.value
		}
		s += fmt.Sprintf("%d:%s=%s ", r.offset, r.key, v)
	}
	return s
}

func TestFilterKeepsLatestPerKeyAndOffsets(t *testing.T) {
	for _, c := range []codec.Compression{codec.CompressionNone, codec.CompressionGzip, codec.CompressionSnappy, codec.CompressionLZ4, codec.CompressionZstd} {
		t.Run(c.String(), func(t *testing.T) {
			b1 := buildBatch(t, 0, c, kv("a", "1"), kv("b", "1"), kv("a", "2"))
			b2 := buildBatch(t, 3, c, kv("c", "1"), tomb("b"), rec{value: []byte("keyless")})
			b3 := buildBatch(t, 6, c, kv("c", "2"), kv("a", "3"))
			data := append(append(append([]byte(nil), b1...), b2...), b3...)
			m := NewKeyMap(1 << 20)
			index(t, m, b1, b2, b3)

			out, st, err := FilterSegment(nil, data, Rule{Map: m, MaxDecompressed: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			recs, hs := readAll(t, out)
			// Kept: b's tombstone at 4 (horizon not passed), c=2 at 6, a=3 at 7. b1 keeps nothing
			// and is dropped; b2 keeps the tombstone; b3 is kept whole.
			if want := "4:b=null 6:c=2 7:a=3 "; show(recs) != want {
				t.Fatalf("kept %q, want %q", show(recs), want)
			}
			if len(hs) != 2 || hs[0].BaseOffset != 3 || hs[0].LastOffset() != 5 || hs[1].BaseOffset != 6 || hs[1].LastOffset() != 7 {
				t.Fatalf("batches %+v: want [3,5] and [6,7], the original ranges", hs)
			}
			if hs[0].ProducerID != 7 || hs[0].BaseSequence != 11 || hs[0].PartitionLeaderEpoch != 3 || hs[0].MaxTimestamp != 1002 {
				t.Fatalf("rebuilt header lost fields: %+v", hs[0])
			}
			if hs[0].Compression() != c {
				t.Fatalf("rebuilt batch has codec %s, want %s", hs[0].Compression(), c)
			}
			if st.Records != 8 || st.Kept != 3 || st.Superseded != 4 || st.Keyless != 1 || st.TombstonesKept != 1 {
				t.Fatalf("stats %+v", st)
			}

			// Past the horizon the tombstone goes too, but the last batch of the segment stays.
			out, st, err = FilterSegment(nil, data, Rule{Map: m, DropTombstones: true, MaxDecompressed: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			recs, hs = readAll(t, out)
			if want := "6:c=2 7:a=3 "; show(recs) != want || len(hs) != 1 || st.Tombstones != 1 {
				t.Fatalf("kept %q in %d batches (stats %+v), want %q in 1", show(recs), len(hs), st, want)
			}
		})
	}
}

func TestFilterKeepsTheLastBatchEmpty(t *testing.T) {
	b1 := buildBatch(t, 10, codec.CompressionZstd, kv("a", "1"))
	b2 := buildBatch(t, 11, codec.CompressionZstd, kv("a", "2"))
	m := NewKeyMap(1 << 20)
	index(t, m, b1, b2, buildBatch(t, 12, codec.CompressionNone, kv("a", "3")))
	// The segment holds b1 and b2 only; a later one holds a=3.
	out, st, err := FilterSegment(nil, append(append([]byte(nil), b1...), b2...), Rule{Map: m, MaxDecompressed: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	recs, hs := readAll(t, out)
	if len(recs) != 0 || len(hs) != 1 || hs[0].BaseOffset != 11 || hs[0].LastOffset() != 11 || hs[0].NumRecords != 0 {
		t.Fatalf("got %q in %+v: want one empty batch ending at 11", show(recs), hs)
	}
	if hs[0].Compression() != codec.CompressionNone {
		t.Fatalf("empty batch written with codec %s", hs[0].Compression())
	}
	if st.Superseded != 2 || st.BytesOut != int64(len(out)) {
		t.Fatalf("stats %+v", st)
	}
}

func TestKeyMapIsBounded(t *testing.T) {
	m := NewKeyMap(3 * EntryBytes)
	if m.MaxEntries() != 3 {
		t.Fatalf("max entries %d", m.MaxEntries())
	}
	index(t, m, buildBatch(t, 0, codec.CompressionNone, kv("a", "1"), kv("b", "1"), kv("a", "2"), kv("c", "1")))
	err := m.AddBatch(buildBatch(t, 4, codec.CompressionNone, kv("c", "2"), kv("d", "1"), kv("a", "3")), 1<<20)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("adding a fourth key: %v, want ErrFull", err)
	}
	if o, _ := m.Latest([]byte("c")); o != 4 || m.Len() != 3 || m.Last != 4 {
		t.Fatalf("c at %d, %d keys, last %d: want the records before the fourth key added", o, m.Len(), m.Last)
	}
}
