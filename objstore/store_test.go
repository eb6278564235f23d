package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testStore is the conformance suite: one body that every Store implementation must pass.
// Each subtest uses its own key prefix, so st may be shared and need not start empty.
func testStore(t *testing.T, st Store) {
	ctx := context.Background()
	put := func(t *testing.T, key string, parts ...[]byte) {
		t.Helper()
		if err := st.Put(ctx, key, parts, partsLen(parts)); err != nil {
			t.Fatalf("Put(%s): %v", key, err)
		}
	}

	t.Run("PutThenReadRangesAndSuffixes", func(t *testing.T) {
		put(t, "rw/a/obj", []byte("hello "), nil, []byte("world"))
		for _, tc := range []struct {
			off, n int64
			want   string
		}{{0, 11, "hello world"}, {6, 5, "world"}, {4, 3, "o w"}, {11, 0, ""}, {0, 0, ""}} {
			got, err := st.GetRange(ctx, "rw/a/obj", tc.off, tc.n)
			if err != nil || string(got) != tc.want {
				t.Errorf("GetRange(%d, %d) = %q, %v; want %q", tc.off, tc.n, got, err, tc.want)
			}
		}
		for _, tc := range []struct {
			n    int64
			want string
		}{{5, "world"}, {11, "hello world"}, {1 << 20, "hello world"}} {
			got, size, err := st.GetSuffix(ctx, "rw/a/obj", tc.n)
			if err != nil || string(got) != tc.want || size != 11 {
				t.Errorf("GetSuffix(%d) = %q, %d, %v; want %q, 11", tc.n, got, size, err, tc.want)
			}
		}
	})

	t.Run("RangeBeyondEndIsOutOfRange", func(t *testing.T) {
		put(t, "oor/obj", []byte("0123456789"))
		for _, r := range [][2]int64{{5, 6}, {10, 1}, {100, 5}} {
			if _, err := st.GetRange(ctx, "oor/obj", r[0], r[1]); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("GetRange(%d, %d) error = %v; want ErrOutOfRange", r[0], r[1], err)
			}
		}
	})

	t.Run("SecondPutOfKeyFailsAndKeepsOriginal", func(t *testing.T) {
		put(t, "dup/obj", []byte("original"))
		err := st.Put(ctx, "dup/obj", [][]byte{[]byte("overwrite!")}, 10)
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second Put error = %v; want ErrExists", err)
		}
		got, size, err := st.GetSuffix(ctx, "dup/obj", 100)
		if err != nil || string(got) != "original" || size != 8 {
			t.Fatalf("after second Put: %q, %d, %v; want original content", got, size, err)
		}
	})

	t.Run("ConcurrentPutsOfOneKeyHaveOneWinner", func(t *testing.T) {
		const n = 8
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := st.Put(ctx, "race/obj", [][]byte{[]byte{byte(i)}}, 1)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrExists):
					t.Errorf("Put: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d Puts succeeded; want exactly 1", wins.Load())
		}
	})

	t.Run("AbsentKeyIsNotFound", func(t *testing.T) {
		if _, err := st.GetRange(ctx, "absent/obj", 0, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetRange error = %v; want ErrNotFound", err)
		}
		if _, _, err := st.GetSuffix(ctx, "absent/obj", 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetSuffix error = %v; want ErrNotFound", err)
		}
	})

	t.Run("ListIsSortedAndFilteredByPrefix", func(t *testing.T) {
		keys := []string{"ls/2", "ls/10", "ls/1/x", "ls.x", "ls/1-y", "ls/1/y/z"}
		for i, k := range keys {
			put(t, k, bytes.Repeat([]byte{'x'}, i+1))
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"ls/", []string{"ls/1-y", "ls/1/x", "ls/1/y/z", "ls/10", "ls/2"}},
			{"ls/1", []string{"ls/1-y", "ls/1/x", "ls/1/y/z", "ls/10"}},
			{"ls/1/", []string{"ls/1/x", "ls/1/y/z"}},
			{"ls", []string{"ls.x", "ls/1-y", "ls/1/x", "ls/1/y/z", "ls/10", "ls/2"}},
			{"ls/2", []string{"ls/2"}},
			{"ls/nothing/", nil},
			{"ls/../", nil},
		} {
			infos, err := st.List(ctx, tc.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			var got []string
			for _, info := range infos {
				got = append(got, info.Key)
				if want := int64(slices.Index(keys, info.Key) + 1); info.Size != want {
					t.Errorf("List(%q): %s has size %d; want %d", tc.prefix, info.Key, info.Size, want)
				}
				if info.Modified.IsZero() {
					t.Errorf("List(%q): %s has no modification time", tc.prefix, info.Key)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q; want %q", tc.prefix, got, tc.want)
			}
		}
	})

	t.Run("DeleteIsIdempotentAndFreesKey", func(t *testing.T) {
		put(t, "del/obj", []byte("one"))
		for range 2 {
			if err := st.Delete(ctx, "del/obj"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if _, err := st.GetRange(ctx, "del/obj", 0, 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetRange after Delete error = %v; want ErrNotFound", err)
		}
		if err := st.Delete(ctx, "del/never"); err != nil {
			t.Fatalf("Delete of absent key: %v", err)
		}
		put(t, "del/obj", []byte("two"))
		if got, _ := st.GetRange(ctx, "del/obj", 0, 3); string(got) != "two" {
			t.Fatalf("re-Put content = %q; want two", got)
		}
	})

	t.Run("DeleteManyDeletesABatch", func(t *testing.T) {
		keys := make([]string, MaxDeleteBatch)
		for i := range keys {
			keys[i] = fmt.Sprintf("many/%d/obj%04d", i%3, i)
		}
		for _, k := range keys[:10] {
			put(t, k, []byte(k))
		}
		// Keys never written are absent, which is not an error, as for Delete.
		if err := st.DeleteMany(ctx, keys); err != nil {
			t.Fatalf("DeleteMany of %d keys: %v", len(keys), err)
		}
		if got, err := st.List(ctx, "many/"); err != nil || len(got) != 0 {
			t.Fatalf("List after DeleteMany = %v, %v; want none", got, err)
		}
		if err := st.DeleteMany(ctx, nil); err != nil {
			t.Fatalf("DeleteMany of no key: %v", err)
		}
	})

	t.Run("DeleteManyRefusesBadInput", func(t *testing.T) {
		put(t, "many/kept", []byte("x"))
		tooMany := make([]string, MaxDeleteBatch+1)
		for i := range tooMany {
			tooMany[i] = "many/kept"
		}
		if err := st.DeleteMany(ctx, tooMany); err == nil || !strings.Contains(err.Error(), "at most 1000") {
			t.Errorf("DeleteMany of %d keys error = %v; want at most 1000", len(tooMany), err)
		}
		if err := st.DeleteMany(ctx, []string{"many/kept", "../x"}); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("DeleteMany with an invalid key error = %v; want ErrInvalidKey", err)
		}
		if got, _ := st.GetRange(ctx, "many/kept", 0, 1); string(got) != "x" {
			t.Errorf("object after refused DeleteMany = %q; want it kept", got)
		}
	})

	t.Run("ConcurrentPutsOfDistinctKeys", func(t *testing.T) {
		const writers, perWriter = 8, 8
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					data := []byte(fmt.Sprintf("w%d-i%d", w, i))
					if err := st.Put(ctx, fmt.Sprintf("conc/%d/%d", w, i), [][]byte{data}, int64(len(data))); err != nil {
						t.Errorf("Put: %v", err)
					}
				}
			})
		}
		wg.Wait()
		infos, err := st.List(ctx, "conc/")
		if err != nil || len(infos) != writers*perWriter {
			t.Fatalf("List = %d objects, %v; want %d", len(infos), err, writers*perWriter)
		}
		for w := range writers {
			for i := range perWriter {
				want := fmt.Sprintf("w%d-i%d", w, i)
				got, err := st.GetRange(ctx, fmt.Sprintf("conc/%d/%d", w, i), 0, int64(len(want)))
				if err != nil || string(got) != want {
					t.Errorf("object %d/%d = %q, %v; want %q", w, i, got, err, want)
				}
			}
		}
	})

	t.Run("MultiPartPutConcatenates", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var parts [][]byte
		var whole []byte
		for range 200 {
			p := make([]byte, rng.IntN(10000))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			parts = append(parts, p)
			whole = append(whole, p...)
		}
		put(t, "multi/obj", parts...)
		for range 50 {
			off := rng.Int64N(int64(len(whole)))
			n := rng.Int64N(int64(len(whole)) - off + 1)
			got, err := st.GetRange(ctx, "multi/obj", off, n)
			if err != nil || !bytes.Equal(got, whole[off:off+n]) {
				t.Fatalf("GetRange(%d, %d) differs from the concatenation (err %v)", off, n, err)
			}
		}
		got, size, err := st.GetSuffix(ctx, "multi/obj", 12345)
		if err != nil || size != int64(len(whole)) || !bytes.Equal(got, whole[len(whole)-12345:]) {
			t.Fatalf("GetSuffix differs from the concatenation (size %d, err %v)", size, err)
		}
	})

	t.Run("EmptyObject", func(t *testing.T) {
		put(t, "empty/obj")
		got, size, err := st.GetSuffix(ctx, "empty/obj", 10)
		if err != nil || len(got) != 0 || size != 0 {
			t.Fatalf("GetSuffix = %q, %d, %v; want empty", got, size, err)
		}
		if _, err := st.GetRange(ctx, "empty/obj", 0, 1); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("GetRange(0, 1) error = %v; want ErrOutOfRange", err)
		}
	})

	t.Run("SizeMismatchIsRejected", func(t *testing.T) {
		if err := st.Put(ctx, "size/obj", [][]byte{[]byte("abc")}, 4); err == nil {
			t.Fatal("Put with wrong size succeeded")
		}
		if _, err := st.GetRange(ctx, "size/obj", 0, 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetRange after rejected Put error = %v; want ErrNotFound", err)
		}
	})

	t.Run("InvalidKeysAreRejected", func(t *testing.T) {
		for _, key := range []string{"", "/abs", "..", "a/../b", "a/./b", "a//b", "a/", ".", "a\\b", "a\x00b", string(make([]byte, MaxKeyLen+1))} {
			if err := st.Put(ctx, key, nil, 0); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Put(%q) error = %v; want ErrInvalidKey", key, err)
			}
			if _, err := st.GetRange(ctx, key, 0, 0); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("GetRange(%q) error = %v; want ErrInvalidKey", key, err)
			}
		}
	})
}

func TestLocalConformance(t *testing.T) {
	st, err := NewLocal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, st)
}
