package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// localTempDir is the directory under the root that holds files being written. Keeping them
// out of the key tree means List never sees a half-written object, and being on the same
// file system lets os.Link publish them atomically.
const localTempDir = ".kafscale-tmp"

// staleTempAge is how old a temp file must be for NewLocal to treat it as a crash leftover.
const staleTempAge = time.Hour

// Local is a Store in a local directory: each key is a file, "/" in keys are subdirectories.
// Put is durable (file and directory entries fsynced before it returns) and atomic (a
// temp file is hard-linked to its final name, which fails if the name exists). A key
// cannot be both an object and a directory of others ("a" and "a/b"), unlike in S3.
// Safe for concurrent use: all coordination is done by the file system.
//
// Page cache: objects are written once and read back rarely and once per range (merges
// read each flush object's ranges once; fetches go through the broker's own cache of
// object ranges, and recent records are served from memory). So on Linux Local writes
// objects with O_DIRECT (writeParts) and reads ranges with O_DIRECT (readRange), and
// where a file system refuses O_DIRECT it tells the kernel to drop an object's pages once
// it is fsynced and a range's pages once read. Kept, they would cache every byte a second
// time, and each write would need page-cache pages the machine has not used before: on a
// virtual machine whose memory the host backs lazily, that first touch made writing into
// new page-cache pages ~15x slower than into reused ones (docs/benchmarks.md,
// 2026-12-02), half of the broker's CPU at maximum produce rate.
type Local struct {
	root string
	tmp  string
	log  *slog.Logger
	// durable holds directories whose entry in their parent this store has fsynced.
	durable sync.Map
	// noDirect is set once the file system refused O_DIRECT (see writeParts).
	noDirect atomic.Bool
}

// NewLocal opens (creating if needed) the store rooted at dir and removes temp files left
// by a crash more than an hour ago.
func NewLocal(dir string, log *slog.Logger) (*Local, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open local object store %s: %w", dir, err)
	}
	l := &Local{root: root, tmp: filepath.Join(root, localTempDir), log: log}
	if err := os.MkdirAll(l.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("cannot open local object store %s: %w", root, err)
	}
	l.removeStaleTemps()
	return l, nil
}

// removeStaleTemps deletes temp files old enough that no Put can still be writing them.
func (l *Local) removeStaleTemps() {
	entries, err := os.ReadDir(l.tmp)
	if err != nil {
		l.log.Warn("cannot list temp files of local object store", "dir", l.tmp, "err", err)
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTempAge {
			continue
		}
		if err := os.Remove(filepath.Join(l.tmp, e.Name())); err == nil {
			l.log.Info("removed stale temp file of local object store", "file", e.Name())
		}
	}
}

// Root returns the absolute directory the store lives in.
func (l *Local) Root() string { return l.root }

// path maps a key to its file, rejecting keys that could escape the root or hit temp files.
func (l *Local) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if key == localTempDir || strings.HasPrefix(key, localTempDir+"/") {
		return "", fmt.Errorf("%w %q: reserved for temp files", ErrInvalidKey, key)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	if err := checkPut(key, parts, size); err != nil {
		return err
	}
	final, err := l.path(key)
	if err != nil {
		return fmt.Errorf("cannot put object: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot put object %s: %w", key, err)
	}
	tmp, err := l.writeTemp(parts)
	if err != nil {
		return fmt.Errorf("cannot put object %s: %w", key, err)
	}
	defer func() {
		// The link (if any) holds the data now; the temp name only has to go.
		if err := os.Remove(tmp); err != nil {
			l.log.Warn("cannot remove temp file of local object store", "file", tmp, "err", err)
		}
	}()
	if err := l.mkdirs(filepath.Dir(final)); err != nil {
		return fmt.Errorf("cannot put object %s: %w", key, err)
	}
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cannot put object %s: %w", key, ErrExists)
		}
		return fmt.Errorf("cannot put object %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("cannot put object %s: %w", key, err)
	}
	return nil
}

// writeTemp writes parts to a new fsynced temp file and returns its path.
func (l *Local) writeTemp(parts [][]byte) (string, error) {
	f, err := os.CreateTemp(l.tmp, "put-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	direct := !l.noDirect.Load()
	if err := writeParts(f, parts, direct); errors.Is(err, errNoDirect) {
		direct = false
		if !l.noDirect.Swap(true) {
			l.log.Info("local object store: the file system refuses O_DIRECT, writing through the page cache", "dir", l.root, "err", err)
		}
	} else if err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	// Written through the page cache, the object's pages are clean once synced: drop them
	// (see "Page cache" on Local). A direct write left none.
	if !direct {
		if err := dropPageCache(f, 0, 0); err != nil {
			l.log.Warn("cannot drop the page cache of a written object", "file", name, "err", err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// errNoDirect reports that the file system refused O_DIRECT (writeParts, Linux only).
var errNoDirect = errors.New("the file system refuses O_DIRECT")

// writeBuffered writes parts to f through the page cache.
func writeBuffered(f *os.File, parts [][]byte) error {
	for _, p := range parts {
		if _, err := f.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// mkdirs creates dir and its missing parents under the root, fsyncing the parent of each
// directory it creates so the new entries survive a crash.
func (l *Local) mkdirs(dir string) error {
	if dir == l.root {
		return nil
	}
	if _, ok := l.durable.Load(dir); ok {
		return nil
	}
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		// A parent is missing too: create it first, then retry.
		if err := l.mkdirs(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o755)
	}
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		// An existing directory may be one a concurrent Put created and has not fsynced
		// yet: sync its parent unless this store already did.
		if _, ok := l.durable.Load(dir); ok {
			return nil
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
		l.durable.Store(dir, struct{}{})
		return nil
	}
	return err
}

// syncDir fsyncs a directory so the entries created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// open opens key's file for reading and returns it with its size.
func (l *Local) open(key string) (*os.File, int64, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, 0, ErrNotFound
		}
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, ErrNotFound
	}
	return f, st.Size(), nil
}

// dropRead drops the page cache of a range just read: whoever asked for it caches what
// it needs (the broker's cache of object ranges), so the kernel's copy would be a second.
func (l *Local) dropRead(f *os.File, key string, off, n int64) {
	if err := dropPageCache(f, off, n); err != nil {
		l.log.Warn("cannot drop the page cache of a read object range", "key", key, "err", err)
	}
}

// GetRange implements Store.
func (l *Local) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := checkRange(key, off, n); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot get object %s range: %w", key, err)
	}
	f, size, err := l.open(key)
	if err != nil {
		return nil, fmt.Errorf("cannot get object %s range: %w", key, err)
	}
	defer f.Close()
	if off+n > size {
		return nil, fmt.Errorf("cannot get object %s range [%d, %d) of size %d: %w", key, off, off+n, size, ErrOutOfRange)
	}
	direct := !l.noDirect.Load()
	buf, err := readRange(f, off, n, size, direct)
	if errors.Is(err, errNoDirect) {
		if !l.noDirect.Swap(true) {
			l.log.Info("local object store: the file system refuses O_DIRECT, reading through the page cache", "dir", l.root, "err", err)
		}
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot get object %s range [%d, %d): %w", key, off, off+n, err)
	}
	return buf, nil
}

// GetSuffix implements Store.
func (l *Local) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	if err := checkSuffix(key, n); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("cannot get object %s suffix: %w", key, err)
	}
	f, size, err := l.open(key)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot get object %s suffix: %w", key, err)
	}
	defer f.Close()
	off := max(size-n, 0)
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, 0, fmt.Errorf("cannot get object %s suffix of %d bytes: %w", key, n, err)
	}
	l.dropRead(f, key, off, size-off)
	return buf, size, nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("cannot delete object: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot delete object %s: %w", key, err)
	}
	// A directory is not an object: leave it, as S3 would find no such key.
	if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot delete object %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("cannot delete object %s: %w", key, err)
	}
	return nil
}

// DeleteMany implements Store. A directory has no batch delete: the files are removed one
// by one and each directory synced once, which is what makes a batch cheaper here.
func (l *Local) DeleteMany(ctx context.Context, keys []string) error {
	if err := checkDeleteMany(keys); err != nil {
		return err
	}
	failed := make(map[string]error)
	dirs := make(map[string][]string) // directory to sync -> keys removed from it
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot delete %d objects: %w", len(keys), err)
		}
		p, err := l.path(key)
		if err != nil {
			failed[key] = err
			continue
		}
		if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
			continue // absent, or a directory, which is not an object
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			failed[key] = err
			continue
		}
		dirs[filepath.Dir(p)] = append(dirs[filepath.Dir(p)], key)
	}
	for dir, removed := range dirs {
		if err := syncDir(dir); err != nil {
			for _, key := range removed {
				failed[key] = err // gone, but not durably so
			}
		}
	}
	if len(failed) > 0 {
		return &DeleteError{Failed: failed}
	}
	return nil
}

// List implements Store. It walks only the deepest directory the prefix names.
func (l *Local) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot list objects %q: %w", prefix, err)
	}
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir, err := l.path(prefix[:i])
		if err != nil {
			return nil, nil // no valid key lives under an invalid directory
		}
		start = dir
	}
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil // raced with a Delete, or the prefix's directory is absent
			}
			return err
		}
		if d.IsDir() {
			if p == l.tmp {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list objects %q: %w", prefix, err)
	}
	// Directory walk order differs from key order ("a/b" sorts after "a.c"), so sort.
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
