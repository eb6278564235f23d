package segment

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/kafscale/kafscale/objstore"
)

// testBatch returns n bytes derived from seed, standing in for a record batch.
func testBatch(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i)
	}
	return b
}

func topicID(i int) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint32(id[12:], uint32(i/7)) // several partitions share a topic
	id[0] = 0xAB
	return id
}

// built is an object made by buildObject, with what its layout must be.
type built struct {
	parts    [][]byte
	size     int64
	footer   Footer
	obj      []byte   // the concatenated parts
	want     []byte   // the expected layout
	perPart  [][]byte // expected bytes of each extent, in extent order
	extents  []Extent // expected extents
	batchCnt int
}

// buildObject adds batchesPer batches to each of partitions partitions round-robin (so
// batches of one partition are interleaved with others in Add order) and finishes.
func buildObject(t testing.TB, b *Builder, partitions, batchesPer int) built {
	var r built
	r.perPart = make([][]byte, partitions)
	r.extents = make([]Extent, partitions)
	offsets := make([]int64, partitions)
	for round := range batchesPer {
		for p := range partitions {
			batch := testBatch(10+(p*7+round*13)%200, p*1000+round)
			base := offsets[p]
			last := base + int64(round%5)
			offsets[p] = last + 1
			ts := int64(1_700_000_000_000 + p*10 + (round*37)%11)
			b.Add(topicID(p), int32(p%7), 3, batch, base, last, ts)
			e := &r.extents[p]
			if round == 0 {
				*e = Extent{TopicID: topicID(p), Partition: int32(p % 7), LeaderEpoch: 3, BaseOffset: base, MaxTimestamp: ts}
			}
			e.LastOffset = last
			e.Len += int64(len(batch))
			e.Batches++
			e.MaxTimestamp = max(e.MaxTimestamp, ts)
			r.perPart[p] = append(r.perPart[p], batch...)
			r.batchCnt++
		}
	}
	var pos int64
	for p := range r.extents {
		r.extents[p].Pos = pos
		pos += r.extents[p].Len
		r.want = append(r.want, r.perPart[p]...)
	}
	r.want = AppendFooter(r.want, r.extents)
	r.parts, r.size, r.footer = b.Finish()
	r.obj = bytes.Join(r.parts, nil)
	return r
}

func TestBuilderFinishLayoutAndFooterRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                   string
		partitions, batchesPer int
	}{
		{"OnePartition", 1, 5},
		{"ThreePartitions", 3, 4},
		{"ThousandPartitions", 1000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			r := buildObject(t, &b, tc.partitions, tc.batchesPer)
			if !bytes.Equal(r.obj, r.want) {
				t.Fatal("Finish output differs from the expected layout")
			}
			if r.size != int64(len(r.want)) || len(r.parts) != r.batchCnt+1 {
				t.Fatalf("size %d, %d parts; want %d, %d", r.size, len(r.parts), len(r.want), r.batchCnt+1)
			}
			if !reflect.DeepEqual(r.footer.Extents, r.extents) {
				t.Fatal("Finish extents differ from the expected ones")
			}
			got, err := DecodeFooter(r.obj, r.size)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r.footer) {
				t.Fatalf("decoded footer %+v differs from Finish's", got)
			}
			key := "obj-" + tc.name
			if err := st.Put(ctx, key, r.parts, r.size); err != nil {
				t.Fatal(err)
			}
			read, err := ReadFooter(ctx, st, key)
			if err != nil || !reflect.DeepEqual(read, r.footer) {
				t.Fatalf("ReadFooter = %v; want Finish's footer", err)
			}
			at, err := ReadFooterAt(ctx, st, key, r.footer.FooterPos, r.footer.FooterLen)
			if err != nil || !reflect.DeepEqual(at, r.footer) {
				t.Fatalf("ReadFooterAt = %v; want Finish's footer", err)
			}
			for i, e := range read.Extents {
				data, err := ReadExtent(ctx, st, key, e)
				if err != nil || !bytes.Equal(data, r.perPart[i]) {
					t.Fatalf("extent %d holds other bytes than its partition's batches (err %v)", i, err)
				}
			}
		})
	}
}

func TestBuilderEmptyObjectIsValid(t *testing.T) {
	var b Builder
	parts, size, footer := b.Finish()
	obj := bytes.Join(parts, nil)
	if size != int64(len(obj)) || size != footerMinSize+TrailerSize || len(footer.Extents) != 0 {
		t.Fatalf("empty object: size %d, %d extents", size, len(footer.Extents))
	}
	got, err := DecodeFooter(obj, size)
	if err != nil || len(got.Extents) != 0 || got.FooterPos != 0 {
		t.Fatalf("DecodeFooter(empty object) = %+v, %v", got, err)
	}
}

// TestBuilderSplitsExtentOnEpochChange guards against merging batches of two leader epochs
// into one extent that claims the later epoch for all of them.
func TestBuilderSplitsExtentOnEpochChange(t *testing.T) {
	var b Builder
	b.Add(topicID(0), 0, 1, testBatch(10, 1), 0, 0, 1)
	b.Add(topicID(0), 0, 2, testBatch(10, 2), 1, 1, 2)
	b.Add(topicID(0), 0, 1, testBatch(10, 3), 2, 2, 3)
	_, _, f := b.Finish()
	if len(f.Extents) != 2 || f.Extents[0].LeaderEpoch != 1 || f.Extents[0].Batches != 2 || f.Extents[1].LeaderEpoch != 2 {
		t.Fatalf("extents = %+v; want epoch 1 (2 batches) then epoch 2", f.Extents)
	}
}

func TestBuilderResetKeepsFinishedExtents(t *testing.T) {
	var b Builder
	first := buildObject(t, &b, 50, 3)
	kept := first.footer.Extents
	want := append([]Extent(nil), kept...)
	b.Reset()
	if b.Len() != 0 || b.NumExtents() != 0 {
		t.Fatalf("after Reset: Len %d, %d extents", b.Len(), b.NumExtents())
	}
	second := buildObject(t, &b, 7, 2)
	if !bytes.Equal(second.obj, second.want) {
		t.Fatal("reused builder produced a wrong layout")
	}
	if !reflect.DeepEqual(kept, want) {
		t.Fatal("Reset and reuse changed the extents returned by an earlier Finish")
	}
}

// reseal recomputes the footer's CRC in both footer and trailer after a test mutated the
// footer, so the decoder's structural checks (not only the CRC) are exercised.
func reseal(obj []byte) {
	tr := obj[len(obj)-TrailerSize:]
	footerLen := int(binary.BigEndian.Uint32(tr[0:4]))
	footer := obj[len(obj)-TrailerSize-footerLen : len(obj)-TrailerSize]
	crc := crc32.Checksum(footer[:len(footer)-4], castagnoli)
	binary.BigEndian.PutUint32(footer[len(footer)-4:], crc)
	binary.BigEndian.PutUint32(tr[4:8], crc)
}

func TestDecodeFooterRejectsHostileTails(t *testing.T) {
	var b Builder
	good := buildObject(t, &b, 3, 2)
	footerStart := int(good.footer.FooterPos)
	ext := func(i, field int) int { return footerStart + footerHeaderSize + i*extentFixedSize + field }
	for _, tc := range []struct {
		name    string
		mutate  func(obj []byte) []byte // gets a copy
		size    func(obj []byte) int64  // objSize passed; nil means len(obj)
		wantErr error
	}{
		{name: "ShorterThanTrailer", mutate: func(o []byte) []byte { return o[len(o)-TrailerSize+1:] }, size: func([]byte) int64 { return 100 }, wantErr: ErrCorrupt},
		{name: "BadTrailerMagic", mutate: func(o []byte) []byte { o[len(o)-1] ^= 1; return o }, wantErr: ErrCorrupt},
		{name: "UnknownTrailerVersion", mutate: func(o []byte) []byte { o[len(o)-7] = 9; return o }, wantErr: ErrUnsupportedVersion},
		{name: "TrailerFlagsSet", mutate: func(o []byte) []byte { o[len(o)-5] = 1; return o }, wantErr: ErrCorrupt},
		{name: "FooterLengthBeyondObject", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[len(o)-TrailerSize:], uint32(len(o)))
			return o
		}, wantErr: ErrCorrupt},
		{name: "FooterLengthHuge", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[len(o)-TrailerSize:], 0xFFFFFFFF)
			return o
		}, wantErr: ErrCorrupt},
		{name: "FooterLengthTooSmall", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[len(o)-TrailerSize:], 3)
			return o
		}, wantErr: ErrCorrupt},
		{name: "TailCutInsideFooter", mutate: func(o []byte) []byte { return o[footerStart+1:] }, size: func([]byte) int64 { return good.size }, wantErr: ErrShortTail},
		{name: "TailLongerThanObject", mutate: func(o []byte) []byte { return o }, size: func(o []byte) int64 { return int64(len(o)) - 1 }},
		{name: "CRCMismatch", mutate: func(o []byte) []byte { o[ext(1, 30)] ^= 0x40; return o }, wantErr: ErrCorrupt},
		{name: "TrailerCRCDiffers", mutate: func(o []byte) []byte { o[len(o)-TrailerSize+4] ^= 1; return o }, wantErr: ErrCorrupt},
		{name: "BadFooterMagic", mutate: func(o []byte) []byte { o[footerStart] = 'X'; reseal(o); return o }, wantErr: ErrCorrupt},
		{name: "UnknownFooterVersion", mutate: func(o []byte) []byte { o[footerStart+5] = 9; reseal(o); return o }, wantErr: ErrUnsupportedVersion},
		{name: "FooterVersionDiffersFromTrailer", mutate: func(o []byte) []byte {
			o[footerStart+5], o[footerStart+7] = 2, 1 // version 2 with FlagCompacted, trailer still version 1
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ExtentCountBeyondBytes", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[footerStart+8:], 1<<30)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ExtentCountTooSmallLeavesGarbage", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[footerStart+8:], 2)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ExtentBeyondDataRegion", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[ext(2, 48):], uint64(good.footer.FooterPos))
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ExtentLengthOverflows", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[ext(2, 48):], 1<<63-1)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ExtentsOverlap", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[ext(1, 40):], 0)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ZeroBatches", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[ext(0, 64):], 0)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "OffsetsReversed", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint64(o[ext(0, 24):], 1000)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
		{name: "ProducerStateBeyondFooter", mutate: func(o []byte) []byte {
			binary.BigEndian.PutUint32(o[ext(2, 68):], 5)
			reseal(o)
			return o
		}, wantErr: ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.mutate(bytes.Clone(good.obj))
			size := int64(len(obj))
			if tc.size != nil {
				size = tc.size(obj)
			}
			_, err := DecodeFooter(obj, size)
			if err == nil {
				t.Fatal("DecodeFooter accepted a bad tail")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v; want %v", err, tc.wantErr)
			}
		})
	}
}

func TestFooterCarriesProducerState(t *testing.T) {
	extents := []Extent{
		{TopicID: topicID(1), Partition: 1, BaseOffset: 5, LastOffset: 9, Pos: 0, Len: 100, Batches: 2, ProducerState: []byte("delta")},
		{TopicID: topicID(2), Partition: 2, BaseOffset: 0, LastOffset: 0, Pos: 100, Len: 50, Batches: 1},
	}
	obj := AppendFooter(make([]byte, 150), extents)
	f, err := DecodeFooter(obj, int64(len(obj)))
	if err != nil || !reflect.DeepEqual(f.Extents, extents) {
		t.Fatalf("DecodeFooter = %+v, %v", f.Extents, err)
	}
	obj[len(obj)-TrailerSize-10] ^= 1 // inside the second extent: must not change the first's state
	if _, err := DecodeFooter(obj, int64(len(obj))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("DecodeFooter after corruption error = %v; want ErrCorrupt", err)
	}
}

// countingStore counts the requests that reach a Store.
type countingStore struct {
	objstore.Store
	suffixes, ranges atomic.Int64
}

func (s *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.ranges.Add(1)
	return s.Store.GetRange(ctx, key, off, n)
}

func (s *countingStore) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	s.suffixes.Add(1)
	return s.Store.GetSuffix(ctx, key, n)
}

func TestReadFooterRequests(t *testing.T) {
	ctx := context.Background()
	local, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                 string
		partitions           int
		suffixes, ranges     int64
		footerBiggerThanRead bool
	}{
		{name: "SmallFooterTakesOneSuffixGet", partitions: 10, suffixes: 1, ranges: 0},
		{name: "LargeFooterTakesOneMoreRangedGet", partitions: 1000, suffixes: 1, ranges: 1, footerBiggerThanRead: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			r := buildObject(t, &b, tc.partitions, 1)
			if big := r.footer.FooterLen+TrailerSize > FooterReadSize; big != tc.footerBiggerThanRead {
				t.Fatalf("footer of %d bytes: bigger than first read is %t", r.footer.FooterLen, big)
			}
			st := &countingStore{Store: local}
			if err := st.Put(ctx, tc.name, r.parts, r.size); err != nil {
				t.Fatal(err)
			}
			f, err := ReadFooter(ctx, st, tc.name)
			if err != nil || !reflect.DeepEqual(f, r.footer) {
				t.Fatalf("ReadFooter: %v", err)
			}
			if st.suffixes.Load() != tc.suffixes || st.ranges.Load() != tc.ranges {
				t.Fatalf("%d suffix and %d ranged GETs; want %d and %d", st.suffixes.Load(), st.ranges.Load(), tc.suffixes, tc.ranges)
			}
		})
	}
}

func TestReadFooterOfAbsentOrForeignObject(t *testing.T) {
	ctx := context.Background()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFooter(ctx, st, "absent"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("ReadFooter(absent) error = %v; want ErrNotFound", err)
	}
	for _, data := range [][]byte{[]byte("tiny"), bytes.Repeat([]byte("not a flush object"), 5000)} {
		key := "foreign-" + string(rune('a'+len(data)%26))
		if err := st.Put(ctx, key, [][]byte{data}, int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFooter(ctx, st, key); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadFooter(%d foreign bytes) error = %v; want ErrCorrupt", len(data), err)
		}
	}
}

func TestReadFooterAtRejectsWrongMetadata(t *testing.T) {
	ctx := context.Background()
	st, err := objstore.NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	r := buildObject(t, &b, 5, 2)
	if err := st.Put(ctx, "obj", r.parts, r.size); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		pos, len int64
	}{
		{"PositionOffByOne", r.footer.FooterPos - 1, r.footer.FooterLen},
		{"LengthTooShort", r.footer.FooterPos + 8, r.footer.FooterLen - 8},
		{"NegativePosition", -1, r.footer.FooterLen},
	} {
		if _, err := ReadFooterAt(ctx, st, "obj", tc.pos, tc.len); err == nil {
			t.Errorf("%s: ReadFooterAt accepted wrong metadata", tc.name)
		}
	}
}

// FuzzDecodeFooter checks that no input panics or over-allocates, and that whatever
// decodes re-encodes to the same bytes (the encoding is canonical).
func FuzzDecodeFooter(f *testing.F) {
	var b Builder
	for _, n := range []int{0, 1, 3} {
		b.Reset()
		r := buildObject(f, &b, n, 2)
		f.Add(r.obj)
	}
	f.Add([]byte("KSF1"))
	f.Fuzz(func(t *testing.T, obj []byte) {
		f, err := DecodeFooter(obj, int64(len(obj)))
		if err != nil {
			return
		}
		enc := AppendFooterFlags(nil, f.Extents, f.Flags)
		if !bytes.Equal(enc, obj[f.FooterPos:]) {
			t.Fatalf("decoded footer re-encodes differently")
		}
		if f.ObjectSize() != int64(len(obj)) {
			t.Fatalf("ObjectSize %d; object has %d bytes", f.ObjectSize(), len(obj))
		}
	})
}
