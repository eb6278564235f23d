package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestOpenPicksImplementationByScheme(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		url     string
		cfg     S3Config
		wantErr error // nil: success; errAny: some error
	}{
		{name: "LocalDirectory", url: "file://" + dir},
		{name: "UnknownScheme", url: "ftp://host/x", wantErr: ErrUnknownScheme},
		{name: "NoScheme", url: "/some/dir", wantErr: ErrUnknownScheme},
		{name: "KnownButNotBuiltIn", url: "gs://bucket/x", wantErr: ErrSchemeNotBuiltIn},
		{name: "RelativeFilePath", url: "file://relative/dir", wantErr: errAny},
		{name: "S3WithoutBucket", url: "s3:///prefix", wantErr: errAny},
		{name: "S3BucketConflict", url: "s3://a/p", cfg: S3Config{Bucket: "b"}, wantErr: errAny},
		{name: "S3BadPartSize", url: "s3://a/p", cfg: S3Config{PartSize: 1}, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Open(ctx, tc.url, tc.cfg, nil)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Open(%q): %v", tc.url, err)
			case tc.wantErr == nil:
				if st == nil {
					t.Fatalf("Open(%q) returned no store", tc.url)
				}
			case err == nil:
				t.Fatalf("Open(%q) succeeded; want error", tc.url)
			case tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("Open(%q) error = %v; want %v", tc.url, err, tc.wantErr)
			}
		})
	}
}

// errAny marks a table case that must fail with no particular sentinel.
var errAny = errors.New("any error")

func TestUnknownSchemeAndNotBuiltInAreDistinct(t *testing.T) {
	if errors.Is(ErrUnknownScheme, ErrSchemeNotBuiltIn) || errors.Is(ErrSchemeNotBuiltIn, ErrUnknownScheme) {
		t.Fatal("scheme errors must be distinct")
	}
}

func TestPartsReaderReadsConcatenation(t *testing.T) {
	parts := [][]byte{[]byte("ab"), nil, []byte("cde"), {}, []byte("f"), []byte("ghij")}
	want := []byte("abcdefghij")
	r := newPartsReader(parts, int64(len(want)))
	if err := iotest.TestReader(r, want); err != nil {
		t.Fatal(err)
	}
	for off := range int64(len(want)) {
		for n := range int64(len(want)) - off + 1 {
			buf := make([]byte, n)
			got, err := r.ReadAt(buf, off)
			if got != int(n) || (err != nil && !(err == io.EOF && off+n == int64(len(want)))) || !bytes.Equal(buf, want[off:off+n]) {
				t.Fatalf("ReadAt(%d, %d) = %d, %v, %q", off, n, got, err, buf)
			}
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), 10); err != io.EOF {
		t.Fatalf("ReadAt past end error = %v; want io.EOF", err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(want) {
		t.Fatalf("Len after rewind = %d; want %d", r.Len(), len(want))
	}
}

func TestCheckKey(t *testing.T) {
	for _, key := range []string{"a", "a/b", "flush/1/00000000000000000001/01ARZ3NDEKTSV4RRFFQ69G5FAV", "a.b/..c", "...", "a b"} {
		if err := CheckKey(key); err != nil {
			t.Errorf("CheckKey(%q) = %v; want nil", key, err)
		}
	}
	for _, key := range []string{"", "/a", "a/", "a//b", ".", "..", "a/..", "./a", "\xff", "a\\b"} {
		if err := CheckKey(key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v; want ErrInvalidKey", key, err)
		}
	}
}
