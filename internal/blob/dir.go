package blob

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"medledger"
)

// tempPrefix starts the name of every file the store is still writing.
// OpenDir removes files with this prefix from <dir>/tmp, and nothing else.
const tempPrefix = ".tmp-"

// Dir is a BlobStore in a directory of the local file system. See the
// package documentation for its layout and crash behaviour. It is safe for
// concurrent use by one process.
type Dir struct {
	blobs, wraps, tmp string
	limit             int64
	// locks serialise PutWrap with Delete of the same blob, so that a wrap
	// is never written for a blob being deleted. Indexed by the ID's
	// first byte.
	locks [256]sync.Mutex
}

var _ medledger.BlobStore = (*Dir)(nil)

// OpenDir opens the store in dir, creating dir and its subdirectories if
// needed, and removes temp files a crash left behind.
func OpenDir(dir string, opts Options) (*Dir, error) {
	if dir == "" {
		return nil, medledger.Errorf(medledger.KindInvalid, "blob store: no directory given")
	}
	limit, err := opts.limit()
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	d := &Dir{
		blobs: filepath.Join(dir, "blobs"),
		wraps: filepath.Join(dir, "wraps"),
		tmp:   filepath.Join(dir, "tmp"),
		limit: limit,
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, medledger.Errorf(medledger.KindInternal, "blob store: %v", err)
	}
	for _, sub := range []string{d.blobs, d.wraps, d.tmp} {
		if err := ensureDir(dir, sub); err != nil {
			return nil, medledger.Errorf(medledger.KindInternal, "blob store: %v", err)
		}
	}
	if err := d.removeTemps(); err != nil {
		return nil, medledger.Errorf(medledger.KindInternal, "blob store: removing temp files: %v", err)
	}
	return d, nil
}

// removeTemps removes the files a crash left in <dir>/tmp.
func (d *Dir) removeTemps() error {
	ents, err := os.ReadDir(d.tmp)
	if err != nil {
		return err
	}
	removed := false
	for _, e := range ents {
		if len(e.Name()) > len(tempPrefix) && e.Name()[:len(tempPrefix)] == tempPrefix && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(d.tmp, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed = true
		}
	}
	if removed {
		return syncDir(d.tmp)
	}
	return nil
}

func (d *Dir) blobPath(id medledger.BlobID) string {
	h := id.String()
	return filepath.Join(d.blobs, h[:2], h[2:4], h)
}

func (d *Dir) wrapDir(id medledger.BlobID) string {
	return filepath.Join(d.wraps, id.String())
}

func (d *Dir) lock(id medledger.BlobID) *sync.Mutex { return &d.locks[id[0]] }

// Put implements medledger.BlobStore.
func (d *Dir) Put(ctx context.Context, id medledger.BlobID, r io.Reader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	final := d.blobPath(id)
	if fi, err := os.Stat(final); err == nil {
		return fi.Size(), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, ioError("stat", id, err)
	}
	n, err := d.writeAtomic(id, final, d.blobs, func(f *os.File) (int64, error) {
		return copyVerified(ctx, f, r, id, d.limit, func(err error) error { return ioError("write", id, err) })
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// writeAtomic makes final hold what write writes: it writes a temp file in
// <dir>/tmp, fsyncs it, renames it to final, creating final's directory
// (under base) if needed, and fsyncs that directory. If write fails, the
// temp file is removed and final is left as it was.
func (d *Dir) writeAtomic(id medledger.BlobID, final, base string, write func(*os.File) (int64, error)) (n int64, err error) {
	f, err := os.CreateTemp(d.tmp, tempPrefix+"*")
	if err != nil {
		return 0, ioError("create temp file for", id, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if n, err = write(f); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, ioError("sync", id, err)
	}
	if err := f.Close(); err != nil {
		return 0, ioError("close", id, err)
	}
	parent := filepath.Dir(final)
	if err := ensureDir(base, parent); err != nil {
		return 0, ioError("create directory for", id, err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return 0, ioError("rename", id, err)
	}
	renamed = true
	if err := syncDir(parent); err != nil {
		return 0, ioError("sync directory of", id, err)
	}
	return n, nil
}

// Open implements medledger.BlobStore.
func (d *Dir) Open(ctx context.Context, id medledger.BlobID) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(d.blobPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, notFound(id)
	}
	if err != nil {
		return nil, 0, ioError("open", id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, ioError("stat", id, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, medledger.Errorf(medledger.KindInternal, "blob store: %s is not a regular file", id)
	}
	return newVerifyingReader(id, fi.Size(), f, f), fi.Size(), nil
}

// Has implements medledger.BlobStore.
func (d *Dir) Has(ctx context.Context, id medledger.BlobID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return d.has(id)
}

func (d *Dir) has(id medledger.BlobID) (bool, error) {
	fi, err := os.Stat(d.blobPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, ioError("stat", id, err)
	}
	return fi.Mode().IsRegular(), nil
}

// Delete implements medledger.BlobStore. It removes the wraps first, so a
// crash half way leaves a blob without wraps, never wraps without a blob,
// and fsyncs the directories it changed before it returns.
func (d *Dir) Delete(ctx context.Context, id medledger.BlobID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := d.lock(id)
	mu.Lock()
	defer mu.Unlock()
	wdir := d.wrapDir(id)
	if _, err := os.Lstat(wdir); err == nil {
		if err := os.RemoveAll(wdir); err != nil {
			return ioError("delete wraps of", id, err)
		}
		if err := syncDir(d.wraps); err != nil {
			return ioError("sync wraps directory of", id, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return ioError("stat wraps of", id, err)
	}
	p := d.blobPath(id)
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return ioError("delete", id, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return ioError("sync directory of", id, err)
	}
	return nil
}

// PutWrap implements medledger.BlobStore.
func (d *Dir) PutWrap(ctx context.Context, id medledger.BlobID, readerKeyID string, wrap []byte) error {
	if err := checkWrap(readerKeyID, wrap); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := d.lock(id)
	mu.Lock()
	defer mu.Unlock()
	ok, err := d.has(id)
	if err != nil {
		return err
	}
	if !ok {
		return medledger.Errorf(medledger.KindNotFound, "blob %s not found: store the blob before its wraps", id)
	}
	_, err = d.writeAtomic(id, filepath.Join(d.wrapDir(id), readerKeyID), d.wraps, func(f *os.File) (int64, error) {
		n, err := f.Write(wrap)
		if err != nil {
			return 0, ioError("write wrap of", id, err)
		}
		return int64(n), nil
	})
	return err
}

// GetWrap implements medledger.BlobStore.
func (d *Dir) GetWrap(ctx context.Context, id medledger.BlobID, readerKeyID string) ([]byte, error) {
	if err := ValidateReaderKeyID(readerKeyID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.wrapDir(id), readerKeyID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wrapNotFound(id, readerKeyID)
	}
	if err != nil {
		return nil, ioError("read wrap of", id, err)
	}
	return b, nil
}

// Wraps implements medledger.BlobStore.
func (d *Dir) Wraps(ctx context.Context, id medledger.BlobID) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(d.wrapDir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, ioError("list wraps of", id, err)
	}
	var keys []string
	for _, e := range ents { // sorted by name
		if e.Type().IsRegular() && ValidateReaderKeyID(e.Name()) == nil {
			keys = append(keys, e.Name())
		}
	}
	return keys, nil
}

// Walk calls fn for every stored blob, in ID order, with its size and
// modification time (when it was stored), for garbage collection of
// unreferenced blobs. It stops at, and returns, the first error of fn or of
// ctx. A blob put or deleted during the walk may or may not be visited. It
// reads every fan-out directory, so its cost grows with the number of blobs.
func (d *Dir) Walk(ctx context.Context, fn func(id medledger.BlobID, size int64, modTime time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	top, err := os.ReadDir(d.blobs)
	if err != nil {
		return medledger.Errorf(medledger.KindInternal, "blob store: %v", err)
	}
	for _, a := range top {
		if !a.IsDir() || !isHexByte(a.Name()) {
			continue
		}
		mid, err := readDirIfExists(filepath.Join(d.blobs, a.Name()))
		if err != nil {
			return err
		}
		for _, b := range mid {
			if !b.IsDir() || !isHexByte(b.Name()) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			leaf, err := readDirIfExists(filepath.Join(d.blobs, a.Name(), b.Name()))
			if err != nil {
				return err
			}
			for _, e := range leaf {
				name := e.Name()
				if !e.Type().IsRegular() || len(name) != 64 || name[:2] != a.Name() || name[2:4] != b.Name() {
					continue
				}
				id, err := medledger.ParseBlobID(name)
				if err != nil || id.String() != name {
					continue
				}
				fi, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted since ReadDir
				}
				if err != nil {
					return ioError("stat", id, err)
				}
				if err := fn(id, fi.Size(), fi.ModTime()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Usage returns the number of stored blobs and their total size. Like Walk,
// it reads every fan-out directory: cache its result rather than call it on
// every metrics scrape of a large store.
func (d *Dir) Usage() (blobs int, bytes int64, err error) {
	err = d.Walk(context.Background(), func(_ medledger.BlobID, size int64, _ time.Time) error {
		blobs++
		bytes += size
		return nil
	})
	return blobs, bytes, err
}

func readDirIfExists(dir string) ([]os.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, medledger.Errorf(medledger.KindInternal, "blob store: %v", err)
	}
	return ents, nil
}

// isHexByte reports whether s is two lowercase hex digits.
func isHexByte(s string) bool {
	if len(s) != 2 {
		return false
	}
	for i := 0; i < 2; i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ensureDir creates dir, and its missing parents below base, with mode
// 0700. It fsyncs the parent of each directory it creates, so the new entry
// survives a crash, also when another goroutine created it first.
func ensureDir(base, dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != base && parent != dir && len(parent) > len(base) {
		if err := ensureDir(base, parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// syncDir fsyncs a directory, making the entries created, renamed or removed
// in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
