package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// fillVersions commits n versions of random sets and deletes, with values
// of up to 2 KB, and an index entry per version.
func fillVersions(t *testing.T, s *Store, r *rand.Rand, n int) {
	t.Helper()
	for range n {
		for range 200 {
			k := fmt.Appendf(nil, "k/%04d", r.Intn(2000))
			if r.Intn(5) == 0 {
				must(t, s.Delete(k))
				continue
			}
			v := make([]byte, 1+r.Intn(2048))
			r.Read(v)
			must(t, s.Set(k, v))
		}
		must(t, s.Index().Set(fmt.Appendf(nil, "i/%d", s.Version()+1), []byte{1}))
		_, _, err := s.Commit()
		must(t, err)
	}
}

func exportChunks(t *testing.T, s *Store, version int64, size int) ([][]byte, []byte) {
	t.Helper()
	var chunks [][]byte
	hash, err := s.Export(version, size, func(c []byte) error {
		chunks = append(chunks, bytes.Clone(c))
		return nil
	})
	must(t, err)
	return chunks, hash
}

func importChunks(s *Store, version int64, chunks [][]byte, want []byte) error {
	im, err := s.Import(version, SnapshotFormat)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if err := im.Write(c); err != nil {
			return err
		}
	}
	return im.Commit(want)
}

// rawKeys counts the keys of the store's database (tree, index, metadata)
// beyond those of a new store, which holds IAVL's storage-version marker.
func rawKeys(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	must(t, iterate(s.raw.Iterator, nil, nil, func(k, _ []byte) bool {
		if string(k) != "s/mstorage_version" {
			n++
		}
		return true
	}))
	return n
}

func treeContents(t *testing.T, s *Store) []kv {
	t.Helper()
	rd, err := s.ReaderAt(s.Version())
	must(t, err)
	return collect(t, rd, nil, nil, 0)
}

// TestSnapshotRoundTrip exports versions of a pruned store and imports
// each into a fresh one: same version, hash and contents, the same bytes
// from a second export, bounded chunks, and a restored store that goes on
// committing exactly like the source.
func TestSnapshotRoundTrip(t *testing.T) {
	opts := fastOptions()
	opts.KeepVersions = 3
	src, err := Open(t.TempDir(), opts)
	must(t, err)
	defer src.Close()
	r := rand.New(rand.NewSource(7))
	fillVersions(t, src, r, 8)
	const size = 4096
	for _, version := range []int64{src.Version() - 2, src.Version()} {
		chunks, hash := exportChunks(t, src, version, size)
		wantHash, err := src.ReaderAt(version)
		must(t, err)
		for i, c := range chunks {
			if len(c) > size || (i < len(chunks)-1 && len(c) != size) {
				t.Fatalf("chunk %d of %d has %d bytes", i, len(chunks), len(c))
			}
		}
		if len(chunks) < 10 {
			t.Fatalf("only %d chunks", len(chunks))
		}
		again, _ := exportChunks(t, src, version, size)
		if !slices.EqualFunc(chunks, again, bytes.Equal) {
			t.Fatal("two exports of one version differ")
		}

		dst, err := Open(t.TempDir(), opts)
		must(t, err)
		must(t, importChunks(dst, version, chunks, hash))
		if dst.Version() != version || !bytes.Equal(dst.Hash(), hash) {
			t.Fatalf("restored version %d hash %X; source %d %X", dst.Version(), dst.Hash(), version, hash)
		}
		if got, want := treeContents(t, dst), collect(t, wantHash, nil, nil, 0); !slices.Equal(got, want) {
			t.Fatalf("restored contents differ: %d keys, source %d", len(got), len(want))
		}
		// Point reads go through IAVL's fast index, rebuilt by the import.
		for _, e := range collect(t, wantHash, nil, nil, 0)[:20] {
			v, err := dst.Get([]byte(e.k))
			must(t, err)
			if string(v) != e.v {
				t.Fatalf("Get(%q) after import: %d bytes, want %d", e.k, len(v), len(e.v))
			}
		}
		if dst.IndexVersion() != 0 || rawIndexKeys(t, dst) != 0 {
			t.Fatalf("restored index: version %d, %d keys; want an empty index to rebuild", dst.IndexVersion(), rawIndexKeys(t, dst))
		}
		if version == src.Version() {
			// The same next block on both gives the same hash.
			for _, s := range []*Store{src, dst} {
				must(t, s.Set([]byte("k/next"), []byte("v")))
				must(t, s.Delete([]byte("k/0001")))
			}
			h1, v1, err1 := src.Commit()
			h2, v2, err2 := dst.Commit()
			must(t, errors.Join(err1, err2))
			if v1 != v2 || !bytes.Equal(h1, h2) {
				t.Fatalf("after restore: source %d %X, restored %d %X", v1, h1, v2, h2)
			}
		}
		// The restored store reopens at its version.
		dir := t.TempDir()
		dst2, err := Open(dir, opts)
		must(t, err)
		must(t, importChunks(dst2, version, chunks, nil))
		must(t, dst2.Close())
		dst2, err = Open(dir, opts)
		must(t, err)
		if dst2.Version() != version || !bytes.Equal(dst2.Hash(), hash) {
			t.Fatalf("reopened restored store at %d %X", dst2.Version(), dst2.Hash())
		}
		must(t, errors.Join(dst.Close(), dst2.Close()))
	}
}

func rawIndexKeys(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	must(t, s.IndexReader().Iterate(nil, nil, func(_, _ []byte) bool { n++; return true }))
	return n
}

// TestSnapshotRejectsBadStreams imports corrupted, truncated and foreign
// streams: each fails with ErrBadSnapshot and leaves the store empty, ready
// for a good import.
func TestSnapshotRejectsBadStreams(t *testing.T) {
	src, err := Open(t.TempDir(), fastOptions())
	must(t, err)
	defer src.Close()
	fillVersions(t, src, rand.New(rand.NewSource(8)), 3)
	version := src.Version()
	chunks, hash := exportChunks(t, src, version, 2048)
	mid := len(chunks) / 2

	flip := func(i, at int) [][]byte {
		out := slices.Clone(chunks)
		out[i] = bytes.Clone(chunks[i])
		out[i][at] ^= 0x40
		return out
	}
	cases := map[string]struct {
		chunks [][]byte
		want   []byte
		err    string
	}{
		"flipped byte mid-stream": {flip(mid, 100), hash, ""},
		"flipped magic":           {flip(0, 0), hash, "not a medledger snapshot"},
		"truncated":               {chunks[:len(chunks)-1], hash, "ends early"},
		"missing chunk":           {slices.Delete(slices.Clone(chunks), mid, mid+1), hash, ""},
		"duplicated chunk":        {slices.Insert(slices.Clone(chunks), mid, chunks[mid]), hash, ""},
		"trailing bytes":          {append(slices.Clone(chunks), []byte{1, 2, 3}), hash, "after the end"},
		"another app hash":        {chunks, bytes.Repeat([]byte{7}, 32), "expected"},
	}
	dst, err := Open(t.TempDir(), fastOptions())
	must(t, err)
	defer dst.Close()
	for name, c := range cases {
		err := importChunks(dst, version, c.chunks, c.want)
		if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v; want ErrBadSnapshot mentioning %q", name, err, c.err)
		}
		if dst.Version() != 0 || rawKeys(t, dst) != 0 {
			t.Errorf("%s: the failed import left version %d and %d keys", name, dst.Version(), rawKeys(t, dst))
		}
	}
	// An import dropped midway leaves nothing behind.
	im, err := dst.Import(version, SnapshotFormat)
	must(t, err)
	must(t, im.Write(chunks[0]))
	must(t, im.Abort())
	if dst.Version() != 0 || rawKeys(t, dst) != 0 || im.Write(chunks[1]) == nil {
		t.Fatalf("after Abort: version %d, %d keys, or the importer still takes chunks", dst.Version(), rawKeys(t, dst))
	}
	// The wrong version or format is refused up front.
	if err := importChunks(dst, version+1, chunks, nil); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("import as another version: %v", err)
	}
	if _, err := dst.Import(version, SnapshotFormat+1); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("import of an unknown format: %v", err)
	}
	must(t, importChunks(dst, version, chunks, hash))
	if dst.Version() != version || !bytes.Equal(dst.Hash(), hash) {
		t.Fatalf("good import after bad ones: %d %X", dst.Version(), dst.Hash())
	}
	// A store with state refuses an import.
	if _, err := dst.Import(version, SnapshotFormat); err == nil || !strings.Contains(err.Error(), "empty store") {
		t.Fatalf("import into a non-empty store: %v", err)
	}
}

// TestSnapshotInterruptedImport stops the process (closes the store)
// halfway through an import: at the next open the store is empty.
func TestSnapshotInterruptedImport(t *testing.T) {
	src, err := Open(t.TempDir(), fastOptions())
	must(t, err)
	defer src.Close()
	// Over 10,000 nodes, so that IAVL's importer writes a batch midway.
	for i := range 8000 {
		must(t, src.Set(fmt.Appendf(nil, "k/%05d", i), []byte("v")))
	}
	_, _, err = src.Commit()
	must(t, err)
	chunks, _ := exportChunks(t, src, src.Version(), 1024)

	dir := t.TempDir()
	dst, err := Open(dir, fastOptions())
	must(t, err)
	im, err := dst.Import(src.Version(), SnapshotFormat)
	must(t, err)
	for _, c := range chunks[:len(chunks)*2/3] {
		must(t, im.Write(c))
	}
	im.imp.Close() // waits for the batch IAVL writes in the background
	if rawKeys(t, dst) < 10_000 {
		t.Fatal("nothing was written before the crash")
	}
	must(t, dst.Close())
	dst, err = Open(dir, fastOptions())
	must(t, err)
	defer dst.Close()
	if dst.Version() != 0 || rawKeys(t, dst) != 0 {
		t.Fatalf("after an interrupted import: version %d, %d keys", dst.Version(), rawKeys(t, dst))
	}
}

// TestSnapshotPinsVersion exports a version while the store commits and
// prunes past it: the commits succeed, the export completes and imports
// to the right hash, and pruning catches up once the export ends.
func TestSnapshotPinsVersion(t *testing.T) {
	opts := fastOptions()
	opts.KeepVersions = 2
	src, err := Open(t.TempDir(), opts)
	must(t, err)
	defer src.Close()
	r := rand.New(rand.NewSource(10))
	fillVersions(t, src, r, 3)
	version, want := src.Version(), src.Hash()

	started, resume := make(chan struct{}), make(chan struct{})
	var chunks [][]byte
	done := make(chan error, 1)
	go func() {
		_, err := src.Export(version, 512, func(c []byte) error {
			if len(chunks) == 0 {
				close(started)
				<-resume
			}
			chunks = append(chunks, bytes.Clone(c))
			return nil
		})
		done <- err
	}()
	<-started
	fillVersions(t, src, r, 5) // would prune version without the pin
	close(resume)
	must(t, <-done)
	if _, err := src.ReaderAt(version); err != nil {
		t.Fatalf("the exported version was pruned while pinned: %v", err)
	}
	fillVersions(t, src, r, 1)
	if _, err := src.ReaderAt(version); !errors.Is(err, ErrVersionUnavailable) {
		t.Fatalf("version %d still there after the export: %v", version, err)
	}
	dst, err := Open(t.TempDir(), opts)
	must(t, err)
	defer dst.Close()
	must(t, importChunks(dst, version, chunks, want))

	// Close stops an export that is under way.
	block := make(chan struct{})
	go func() {
		_, err := src.Export(src.Version(), 512, func([]byte) error { <-block; return nil })
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- src.Close() }()
	time.Sleep(50 * time.Millisecond)
	close(block)
	if err := <-done; err == nil {
		t.Fatal("an export went on through Close")
	}
	must(t, <-closed)
}

// TestSnapshotEmptyTree exports a version with no keys.
func TestSnapshotEmptyTree(t *testing.T) {
	src, err := Open(t.TempDir(), fastOptions())
	must(t, err)
	defer src.Close()
	_, _, err = src.Commit()
	must(t, err)
	chunks, hash := exportChunks(t, src, 1, 0)
	if len(chunks) != 1 {
		t.Fatalf("%d chunks", len(chunks))
	}
	dst, err := Open(t.TempDir(), fastOptions())
	must(t, err)
	defer dst.Close()
	must(t, importChunks(dst, 1, chunks, hash))
	if dst.Version() != 1 || !bytes.Equal(dst.Hash(), src.Hash()) {
		t.Fatalf("restored empty tree: %d %X, want 1 %X", dst.Version(), dst.Hash(), src.Hash())
	}
}
