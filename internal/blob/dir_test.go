package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"medledger"
	"medledger/internal/blob"
	"medledger/internal/blob/blobtest"
)

// openDir opens a store in a fresh directory and, when the test ends, checks
// that no temp file is left in it.
func openDir(t *testing.T, limit int64) medledger.BlobStore {
	d, err := blob.OpenDir(t.TempDir(), blob.Options{MaxBlobSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if names := dirNames(t, blob.TempDir(d)); len(names) != 0 {
			t.Errorf("temp files left behind: %q", names)
		}
	})
	return d
}

// corruptDir flips a bit of a blob's last byte on disk, or appends a byte to
// an empty blob.
func corruptDir(t *testing.T, s medledger.BlobStore, id medledger.BlobID) {
	p := blob.BlobPath(s.(*blob.Dir), id)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		b = []byte{0}
	} else {
		b[len(b)-1] ^= 1
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDirContract(t *testing.T) { blobtest.Run(t, openDir) }

func TestDirCorruption(t *testing.T) { blobtest.RunCorruption(t, openDir, corruptDir) }

func TestDirLayout(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := randBytes(1000, 1)
	id := medledger.BlobIDOf(b)
	if _, err := d.Put(ctx, id, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := d.PutWrap(ctx, id, "kreader1", []byte("wrapped key")); err != nil {
		t.Fatal(err)
	}
	h := id.String()
	want := map[string]string{
		filepath.Join("blobs", h[:2], h[2:4], h): string(b),
		filepath.Join("wraps", h, "kreader1"):    "wrapped key",
	}
	got := map[string]string{}
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		c, err := os.ReadFile(p)
		got[rel] = string(c)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("files in the store: %q, want exactly %q", mapKeys(got), mapKeys(want))
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("%s holds %d bytes, want %d", p, len(got[p]), len(c))
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || !fi.IsDir() {
		t.Fatalf("tmp directory: %v", err)
	}
}

func TestDirFileModes(t *testing.T) {
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "home", "blobs")
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := randBytes(100, 2)
	id := medledger.BlobIDOf(b)
	if _, err := d.Put(ctx, id, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := d.PutWrap(ctx, id, "k1", []byte("w")); err != nil {
		t.Fatal(err)
	}
	var dirs, files int
	err = filepath.WalkDir(filepath.Dir(root), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		if e.IsDir() {
			dirs++
			if perm != 0o700 {
				t.Errorf("directory %s has mode %v, want 0700", p, perm)
			}
		} else {
			files++
			if perm != 0o600 {
				t.Errorf("file %s has mode %v, want 0600", p, perm)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// home, root, blobs, blobs/ab, blobs/ab/cd, wraps, wraps/<id>, tmp; blob, wrap.
	if dirs != 8 || files != 2 {
		t.Fatalf("checked %d directories and %d files, want 8 and 2", dirs, files)
	}
}

func TestOpenDirRemovesTempFiles(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := randBytes(5000, 3)
	keptID := medledger.BlobIDOf(kept)
	if _, err := d.Put(ctx, keptID, bytes.NewReader(kept)); err != nil {
		t.Fatal(err)
	}
	// What a crash leaves: a half-written and a fully written temp file of
	// a blob that was never renamed into place.
	lost := randBytes(5000, 4)
	lostID := medledger.BlobIDOf(lost)
	tmp := blob.TempDir(d)
	writeFile(t, filepath.Join(tmp, blob.TempPrefix+"123"), lost[:2000])
	writeFile(t, filepath.Join(tmp, blob.TempPrefix+"456"), lost)
	writeFile(t, filepath.Join(tmp, "not-ours"), []byte("x")) // no prefix: not the store's to remove

	d, err = blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, tmp); !slices.Equal(names, []string{"not-ours"}) {
		t.Fatalf("tmp holds %q after OpenDir, want only [not-ours]", names)
	}
	if ok, err := d.Has(ctx, lostID); err != nil || ok {
		t.Fatalf("Has of a blob whose Put crashed = %v, %v, want false", ok, err)
	}
	if _, _, err := d.Open(ctx, lostID); !medledger.IsKind(err, medledger.KindNotFound) {
		t.Fatalf("Open of a blob whose Put crashed = %v, want kind not_found", err)
	}
	if got := readBlob(t, d, keptID); !bytes.Equal(got, kept) {
		t.Fatal("OpenDir changed a stored blob")
	}
	if n, size, err := d.Usage(); err != nil || n != 1 || size != int64(len(kept)) {
		t.Fatalf("Usage = %d, %d, %v, want 1, %d", n, size, err, len(kept))
	}
	if _, err := d.Put(ctx, lostID, bytes.NewReader(lost)); err != nil {
		t.Fatalf("Put after the crash: %v", err)
	}
	if got := readBlob(t, d, lostID); !bytes.Equal(got, lost) {
		t.Fatal("blob put after the crash reads back different bytes")
	}
}

// TestDirCrashMidPut copies the store's files while a Put is half way, as a
// crash would leave them, and opens the copy.
func TestDirCrashMidPut(t *testing.T) {
	root := t.TempDir()
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := randBytes(300_000, 5)
	id := medledger.BlobIDOf(b)
	r := &stall{data: b[:200_000], stalled: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := d.Put(ctx, id, r); errc <- err }()
	select {
	case <-r.stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("Put did not read its upload")
	}
	// Wait until the bytes read so far reach the temp file: the store
	// writes a chunk after reading it.
	tmp := blob.TempDir(d)
	deadline := time.Now().Add(10 * time.Second)
	for {
		names := dirNames(t, tmp)
		if len(names) == 1 {
			if fi, err := os.Stat(filepath.Join(tmp, names[0])); err == nil && fi.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no temp file with data during Put: tmp holds %q", names)
		}
		time.Sleep(time.Millisecond)
	}
	if ok, _ := d.Has(ctx, id); ok {
		t.Fatal("blob visible before its Put finished")
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	cancel()
	close(r.release)
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put = %v", err)
	}

	d2, err := blob.OpenDir(crashed, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, blob.TempDir(d2)); len(names) != 0 {
		t.Fatalf("temp files left after OpenDir: %q", names)
	}
	if ok, err := d2.Has(t.Context(), id); err != nil || ok {
		t.Fatalf("Has after a crash mid-Put = %v, %v, want false", ok, err)
	}
	if n, _, err := d2.Usage(); err != nil || n != 0 {
		t.Fatalf("Usage after a crash mid-Put = %d blobs, %v, want 0", n, err)
	}
}

func TestDirTruncatedOrExtended(t *testing.T) {
	ctx := t.Context()
	d, err := blob.OpenDir(t.TempDir(), blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := randBytes(200_000, 6)
	id := medledger.BlobIDOf(b)
	p := blob.BlobPath(d, id)
	for _, c := range []struct {
		name   string
		damage func() error
		size   int64
	}{
		{"Half", func() error { return os.Truncate(p, 100_000) }, 100_000},
		{"OneByteShort", func() error { return os.Truncate(p, 199_999) }, 199_999},
		{"Empty", func() error { return os.Truncate(p, 0) }, 0},
		{"Extended", func() error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte("tail"))
			return f.Close()
		}, 200_004},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := d.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Put(ctx, id, bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
			if err := c.damage(); err != nil {
				t.Fatal(err)
			}
			rc, size, err := d.Open(ctx, id)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			if size != c.size {
				t.Errorf("Open reports %d bytes, want the %d on disk", size, c.size)
			}
			_, err = io.ReadAll(rc)
			if !medledger.IsKind(err, medledger.KindInvalid) || !strings.Contains(err.Error(), "does not match its id") {
				t.Fatalf("reading a damaged blob = %v, want kind invalid, does not match its id", err)
			}
			// The error is sticky.
			if n, err2 := rc.Read(make([]byte, 10)); n != 0 || !medledger.IsKind(err2, medledger.KindInvalid) {
				t.Fatalf("Read after the error = %d, %v, want 0 and the same error", n, err2)
			}
		})
	}
}

func TestDirDeleteRemovesFiles(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := randBytes(1000, 7)
	id := medledger.BlobIDOf(b)
	if _, err := d.Put(ctx, id, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if err := d.PutWrap(ctx, id, k, []byte("wrap")); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{blob.BlobPath(d, id), filepath.Join(root, "wraps", id.String())} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists after Delete: %v", p, err)
		}
	}
}

func TestDirReopen(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := randBytes(70_000, 8)
	id := medledger.BlobIDOf(b)
	if _, err := d.Put(ctx, id, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := d.PutWrap(ctx, id, "k1", []byte("wrap")); err != nil {
		t.Fatal(err)
	}
	d, err = blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, d, id); !bytes.Equal(got, b) {
		t.Fatal("blob reads back different bytes after reopening")
	}
	if w, err := d.GetWrap(ctx, id, "k1"); err != nil || string(w) != "wrap" {
		t.Fatalf("GetWrap after reopening = %q, %v", w, err)
	}
}

func TestDirWalkAndUsage(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := blob.OpenDir(root, blob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, size, err := d.Usage(); err != nil || n != 0 || size != 0 {
		t.Fatalf("Usage of an empty store = %d, %d, %v", n, size, err)
	}
	before := time.Now().Add(-time.Minute)
	sizes := map[medledger.BlobID]int64{}
	var total int64
	for i, n := range []int{0, 1, 1000, 64 << 10, 100_001} {
		b := randBytes(n, uint64(10+i))
		id := medledger.BlobIDOf(b)
		if _, err := d.Put(ctx, id, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		sizes[id] = int64(n)
		total += int64(n)
	}
	// Files that are not blobs, which Walk must skip.
	var some medledger.BlobID
	for id := range sizes {
		some = id
		break
	}
	leaf := filepath.Dir(blob.BlobPath(d, some))
	writeFile(t, filepath.Join(root, "blobs", "README"), []byte("x"))
	writeFile(t, filepath.Join(root, "blobs", "zz", "00", "x"), []byte("x"))
	writeFile(t, filepath.Join(leaf, "notablob"), []byte("x"))
	writeFile(t, filepath.Join(leaf, some.String()[:63]+"x"), []byte("x"))
	other := medledger.BlobIDOf([]byte("elsewhere"))
	writeFile(t, filepath.Join(leaf, other.String()), []byte("x")) // in the wrong fan-out directory

	var ids []medledger.BlobID
	err = d.Walk(ctx, func(id medledger.BlobID, size int64, mod time.Time) error {
		ids = append(ids, id)
		if want, ok := sizes[id]; !ok || size != want {
			t.Errorf("Walk: %s with %d bytes, want %d (known: %v)", id, size, want, ok)
		}
		if mod.Before(before) || mod.After(time.Now().Add(time.Minute)) {
			t.Errorf("Walk: %s modified at %v", id, mod)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(sizes) || !slices.IsSortedFunc(ids, func(a, b medledger.BlobID) int { return bytes.Compare(a[:], b[:]) }) {
		t.Fatalf("Walk visited %d blobs (sorted: %v), want the %d stored, in ID order", len(ids), slices.IsSortedFunc(ids, func(a, b medledger.BlobID) int { return bytes.Compare(a[:], b[:]) }), len(sizes))
	}
	if n, size, err := d.Usage(); err != nil || n != len(sizes) || size != total {
		t.Fatalf("Usage = %d, %d, %v, want %d, %d", n, size, err, len(sizes), total)
	}

	stop := errors.New("stop")
	calls := 0
	if err := d.Walk(ctx, func(medledger.BlobID, int64, time.Time) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Walk with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Walk(cctx, func(medledger.BlobID, int64, time.Time) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Walk with a cancelled context = %v", err)
	}

	if err := d.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if n, size, err := d.Usage(); err != nil || n != len(sizes)-1 || size != total-sizes[ids[0]] {
		t.Fatalf("Usage after Delete = %d, %d, %v", n, size, err)
	}
}

func TestOpenDirOptions(t *testing.T) {
	if _, err := blob.OpenDir("", blob.Options{}); !medledger.IsKind(err, medledger.KindInvalid) {
		t.Errorf("OpenDir(\"\") = %v, want kind invalid", err)
	}
	if _, err := blob.OpenDir(t.TempDir(), blob.Options{MaxBlobSize: -1}); !medledger.IsKind(err, medledger.KindInvalid) {
		t.Errorf("OpenDir with a negative MaxBlobSize = %v, want kind invalid", err)
	}
	d, err := blob.OpenDir(t.TempDir(), blob.Options{})
	if err != nil || blob.Limit(d) != blob.DefaultMaxBlobSize {
		t.Errorf("OpenDir with no MaxBlobSize: limit %d, %v, want %d", blob.Limit(d), err, blob.DefaultMaxBlobSize)
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, nil)
	if _, err := blob.OpenDir(file, blob.Options{}); err == nil {
		t.Error("OpenDir on a regular file succeeded")
	}
}

// TestDirStreamingMemory puts and reads a 100 MiB blob and checks that the
// store allocates a few MiB for it, not the blob's size.
func TestDirStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MiB")
	}
	const size = 100 << 20
	ctx := t.Context()
	d, err := blob.OpenDir(t.TempDir(), blob.Options{MaxBlobSize: 200 << 20})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, newPattern(size)); err != nil {
		t.Fatal(err)
	}
	var id medledger.BlobID
	h.Sum(id[:0])

	const budget = 4 << 20
	r := newPattern(size)
	start := time.Now()
	alloc := allocated(func() {
		if n, err := d.Put(ctx, id, r); err != nil || n != size {
			t.Fatalf("Put of 100 MiB = %d, %v", n, err)
		}
	})
	t.Logf("Put of 100 MiB: %v, %d KiB allocated", time.Since(start), alloc>>10)
	if alloc > budget {
		t.Fatalf("Put of 100 MiB allocated %d KiB, want under %d KiB", alloc>>10, budget>>10)
	}

	start = time.Now()
	var n int64
	alloc = allocated(func() {
		rc, _, err := d.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if n, err = io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Open and read of 100 MiB: %v, %d KiB allocated", time.Since(start), alloc>>10)
	if n != size {
		t.Fatalf("read %d bytes, want %d", n, size)
	}
	if alloc > budget {
		t.Fatalf("reading 100 MiB allocated %d KiB, want under %d KiB", alloc>>10, budget>>10)
	}
}

// allocated returns the bytes the heap allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// pattern is a reader of n bytes that repeats a 1 MiB random block.
type pattern struct {
	block []byte
	off   int
	left  int64
}

func newPattern(n int64) *pattern { return &pattern{block: randBytes(1<<20, 99), left: n} }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := copy(b, p.block[p.off:])
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}

// stall returns data, closes stalled, and blocks until release is closed.
type stall struct {
	data             []byte
	stalled, release chan struct{}
	once             bool
}

func (r *stall) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	if !r.once {
		r.once = true
		close(r.stalled)
	}
	<-r.release
	return 0, io.ErrUnexpectedEOF
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}

func readBlob(t *testing.T, s medledger.BlobStore, id medledger.BlobID) []byte {
	t.Helper()
	rc, _, err := s.Open(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func mapKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
