// Package blobtest is the contract suite of medledger.BlobStore. Every
// backend runs it in its own tests:
//
//	func TestContract(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T, limit int64) medledger.BlobStore {
//			return newStore(t, limit)
//		})
//	}
//
// and, if its stored bytes can go bad, RunCorruption with a hook that damages
// them. The suite checks the rules in package blob's documentation.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"medledger"
	"medledger/internal/blob"
)

// opener returns a new, empty store whose blobs may be at most limit bytes.
type opener = func(t *testing.T, limit int64) medledger.BlobStore

// limit is the size limit of the stores of subtests that do not test it.
const limit = 4 << 20

// wait bounds how long the suite waits for a store to react.
const wait = 10 * time.Second

// Run runs the contract suite on stores that open returns. open must return
// a new, empty store whose blobs may be at most limit bytes. The suite calls
// it once per subtest and never closes the store: register any cleanup, and
// any check of what the store left behind (temp files, say), with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T, limit int64) medledger.BlobStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, opener)
	}{
		{"RoundTrip", testRoundTrip},
		{"SmallReads", testSmallReads},
		{"Mismatch", testMismatch},
		{"TooLarge", testTooLarge},
		{"PutExisting", testPutExisting},
		{"Missing", testMissing},
		{"Wraps", testWraps},
		{"WrapNeedsBlob", testWrapNeedsBlob},
		{"WrapSize", testWrapSize},
		{"ReaderKeyIDs", testReaderKeyIDs},
		{"Delete", testDelete},
		{"ReaderError", testReaderError},
		{"CancelledContext", testCancelledContext},
		{"CancelDuringPut", testCancelDuringPut},
		{"CancelBlockedPut", testCancelBlockedPut},
		{"ConcurrentSamePut", testConcurrentSamePut},
		{"ConcurrentPutOpen", testConcurrentPutOpen},
		{"ConcurrentWraps", testConcurrentWraps},
		{"DeleteRacesPutWrap", testDeleteRacesPutWrap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// RunCorruption checks that stores that open returns detect, on read, bytes
// that corrupt has damaged, and recover once the blob is deleted and put
// again. corrupt must change the stored bytes of blob id in s so that they
// no longer hash to id, as a failing disk would, while Has and Open still
// find the blob: flip a bit, or append a byte to an empty blob.
func RunCorruption(t *testing.T, open func(t *testing.T, limit int64) medledger.BlobStore, corrupt func(t *testing.T, s medledger.BlobStore, id medledger.BlobID)) {
	for _, size := range []int{0, 1, 64<<10 + 1, 200_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ctx := t.Context()
			s := open(t, limit)
			b := content(size, 1)
			id := put(t, s, b)
			corrupt(t, s, id)
			if ok, err := s.Has(ctx, id); err != nil || !ok {
				t.Fatalf("Has after corrupt = %v, %v; the hook must leave the blob in place", ok, err)
			}
			// Read, WriteTo (through io.Copy) and one byte at a time must
			// all end in KindInvalid, never in a clean io.EOF.
			reads := map[string]func(io.Reader) error{
				"ReadAll": func(r io.Reader) error { _, err := io.ReadAll(r); return err },
				"Copy":    func(r io.Reader) error { _, err := io.Copy(new(bytes.Buffer), r); return err },
				"OneByte": func(r io.Reader) error { _, err := io.ReadAll(iotest.OneByteReader(r)); return err },
			}
			for name, read := range reads {
				rc, _, err := s.Open(ctx, id)
				if err == nil {
					err = read(rc)
					rc.Close()
				}
				if !medledger.IsKind(err, medledger.KindInvalid) {
					t.Errorf("%s of a corrupted blob: err = %v, want kind invalid", name, err)
				}
			}
			if err := s.Delete(ctx, id); err != nil {
				t.Fatalf("Delete of a corrupted blob: %v", err)
			}
			if ok, err := s.Has(ctx, id); err != nil || ok {
				t.Fatalf("Has after Delete = %v, %v, want false", ok, err)
			}
			put(t, s, b)
			if got := read(t, s, id); !bytes.Equal(got, b) {
				t.Fatal("blob put again after corruption reads back different bytes")
			}
		})
	}
}

func testRoundTrip(t *testing.T, open opener) {
	s := open(t, limit)
	for _, size := range []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ctx := t.Context()
			b := content(size, int64(size))
			id := medledger.BlobIDOf(b)
			n, err := s.Put(ctx, id, bytes.NewReader(b))
			if err != nil || n != int64(size) {
				t.Fatalf("Put = %d, %v, want %d, nil", n, err, size)
			}
			if ok, err := s.Has(ctx, id); err != nil || !ok {
				t.Fatalf("Has = %v, %v, want true", ok, err)
			}
			rc, n, err := s.Open(ctx, id)
			if err != nil || n != int64(size) {
				t.Fatalf("Open = %d, %v, want %d, nil", n, err, size)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("ReadAll = %d bytes, %v; want the %d bytes put", len(got), err, size)
			}
			if err := rc.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Every way of reading works: odd buffer sizes (TestReader is
			// slow on large inputs, under the race detector), io.Copy.
			if size <= 64<<10+1 {
				rc, _, err = s.Open(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if err := iotest.TestReader(rc, b); err != nil {
					t.Fatalf("TestReader: %v", err)
				}
				rc.Close()
			}
			rc, _, err = s.Open(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if n, err := io.Copy(&buf, rc); err != nil || n != int64(size) || !bytes.Equal(buf.Bytes(), b) {
				t.Fatalf("io.Copy = %d, %v; want the %d bytes put", n, err, size)
			}
			rc.Close()
		})
	}
}

// testSmallReads puts through readers that return a byte at a time, half of
// what is asked, and data together with io.EOF.
func testSmallReads(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	readers := map[string]func(io.Reader) io.Reader{
		"OneByte": iotest.OneByteReader,
		"Half":    iotest.HalfReader,
		"DataErr": iotest.DataErrReader,
	}
	seed := int64(100)
	for name, wrap := range readers {
		seed++
		b := content(64<<10+1, seed)
		id := medledger.BlobIDOf(b)
		if n, err := s.Put(ctx, id, wrap(bytes.NewReader(b))); err != nil || n != int64(len(b)) {
			t.Fatalf("Put through %s reader = %d, %v", name, n, err)
		}
		if got := read(t, s, id); !bytes.Equal(got, b) {
			t.Fatalf("blob put through %s reader reads back different bytes", name)
		}
	}
}

func testMismatch(t *testing.T, open opener) {
	b := content(1000, 2)
	cases := []struct {
		name string
		id   medledger.BlobID
		data []byte
	}{
		{"OtherBytes", medledger.BlobIDOf(content(1000, 3)), b},
		{"Truncated", medledger.BlobIDOf(b), b[:999]},
		{"Extended", medledger.BlobIDOf(b), append(bytes.Clone(b), 0)},
		{"OneBitFlipped", medledger.BlobIDOf(b), flipped(b, 500)},
		{"Empty", medledger.BlobIDOf(b), nil},
		{"ZeroID", medledger.BlobID{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t, limit)
			_, err := s.Put(ctx, c.id, bytes.NewReader(c.data))
			if !medledger.IsKind(err, medledger.KindInvalid) {
				t.Fatalf("Put = %v, want kind invalid", err)
			}
			assertAbsent(t, s, c.id)
		})
	}
}

func testTooLarge(t *testing.T, open opener) {
	const max = 1000
	t.Run("AtLimit", func(t *testing.T) {
		s := open(t, max)
		b := content(max, 4)
		put(t, s, b)
		if got := read(t, s, medledger.BlobIDOf(b)); !bytes.Equal(got, b) {
			t.Fatal("blob of exactly the limit reads back different bytes")
		}
	})
	t.Run("OneOver", func(t *testing.T) {
		s := open(t, max)
		b := content(max+1, 5)
		id := medledger.BlobIDOf(b) // the bytes match: only the size is wrong
		if _, err := s.Put(t.Context(), id, bytes.NewReader(b)); !medledger.IsKind(err, medledger.KindTooLarge) {
			t.Fatalf("Put of limit+1 bytes = %v, want kind too_large", err)
		}
		assertAbsent(t, s, id)
	})
	t.Run("OverWithWrongID", func(t *testing.T) {
		s := open(t, max)
		id := medledger.BlobIDOf([]byte("something else"))
		if _, err := s.Put(t.Context(), id, bytes.NewReader(content(3*max, 6))); !medledger.IsKind(err, medledger.KindTooLarge) {
			t.Fatalf("Put of 3*limit bytes = %v, want kind too_large", err)
		}
		assertAbsent(t, s, id)
	})
	t.Run("Endless", func(t *testing.T) {
		// The store must stop reading at limit+1 bytes: a client cannot
		// make it read (or buffer) more than that.
		s := open(t, max)
		r := &endless{}
		id := medledger.BlobIDOf([]byte("endless"))
		errc := make(chan error, 1)
		go func() { _, err := s.Put(t.Context(), id, r); errc <- err }()
		select {
		case err := <-errc:
			if !medledger.IsKind(err, medledger.KindTooLarge) {
				t.Fatalf("Put of an endless reader = %v, want kind too_large", err)
			}
		case <-time.After(wait):
			t.Fatal("Put of an endless reader did not stop")
		}
		if n := r.n.Load(); n > max+1 {
			t.Fatalf("Put read %d bytes of an endless reader, want at most limit+1 = %d", n, max+1)
		}
		assertAbsent(t, s, id)
	})
}

func testPutExisting(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	b := content(70_000, 7)
	id := put(t, s, b)
	// A no-op: the store does not read r, so neither a failing reader nor
	// other bytes matter.
	if n, err := s.Put(ctx, id, iotest.ErrReader(errors.New("must not be read"))); err != nil || n != int64(len(b)) {
		t.Fatalf("Put of a stored blob with a failing reader = %d, %v, want %d, nil", n, err, len(b))
	}
	if n, err := s.Put(ctx, id, bytes.NewReader(content(10, 8))); err != nil || n != int64(len(b)) {
		t.Fatalf("Put of a stored blob with other bytes = %d, %v, want %d, nil", n, err, len(b))
	}
	if n, err := s.Put(ctx, id, bytes.NewReader(b)); err != nil || n != int64(len(b)) {
		t.Fatalf("Put of a stored blob again = %d, %v, want %d, nil", n, err, len(b))
	}
	if got := read(t, s, id); !bytes.Equal(got, b) {
		t.Fatal("stored blob changed after repeated Puts")
	}
}

func testMissing(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	put(t, s, content(10, 9)) // the store is not empty
	id := medledger.BlobIDOf([]byte("missing"))
	assertAbsent(t, s, id)
	if err := s.Delete(ctx, id); err != nil {
		t.Fatalf("Delete of a missing blob = %v, want nil", err)
	}
	if _, err := s.GetWrap(ctx, id, "k1"); !medledger.IsKind(err, medledger.KindNotFound) {
		t.Fatalf("GetWrap of a missing blob = %v, want kind not_found", err)
	}
}

func testWraps(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	id := put(t, s, content(100, 10))
	other := put(t, s, content(100, 11))
	if keys, err := s.Wraps(ctx, id); err != nil || len(keys) != 0 {
		t.Fatalf("Wraps of a blob without wraps = %q, %v, want none", keys, err)
	}
	want := map[string][]byte{}
	for i, k := range []string{"kb", "zz", "ka", "0", "k0"} {
		w := content(1100+i, int64(20+i))
		if err := s.PutWrap(ctx, id, k, w); err != nil {
			t.Fatalf("PutWrap %s: %v", k, err)
		}
		want[k] = w
	}
	if err := s.PutWrap(ctx, other, "kother", []byte("w")); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.Wraps(ctx, id); err != nil || !slices.Equal(keys, []string{"0", "k0", "ka", "kb", "zz"}) {
		t.Fatalf("Wraps = %q, %v, want the five keys sorted", keys, err)
	}
	for k, w := range want {
		if got, err := s.GetWrap(ctx, id, k); err != nil || !bytes.Equal(got, w) {
			t.Fatalf("GetWrap %s = %d bytes, %v, want the %d bytes put", k, len(got), err, len(w))
		}
	}
	// Overwriting replaces, also with a shorter wrap.
	if err := s.PutWrap(ctx, id, "ka", []byte("short")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetWrap(ctx, id, "ka"); err != nil || string(got) != "short" {
		t.Fatalf("GetWrap after overwrite = %q, %v, want %q", got, err, "short")
	}
	if keys, _ := s.Wraps(ctx, id); len(keys) != 5 {
		t.Fatalf("Wraps after overwrite = %q, want five keys", keys)
	}
	if _, err := s.GetWrap(ctx, id, "kc"); !medledger.IsKind(err, medledger.KindNotFound) {
		t.Fatalf("GetWrap of a key without a wrap = %v, want kind not_found", err)
	}
	if _, err := s.GetWrap(ctx, id, "kother"); !medledger.IsKind(err, medledger.KindNotFound) {
		t.Fatalf("GetWrap of another blob's key = %v, want kind not_found", err)
	}
	if keys, err := s.Wraps(ctx, other); err != nil || !slices.Equal(keys, []string{"kother"}) {
		t.Fatalf("Wraps of the other blob = %q, %v", keys, err)
	}
	// The store keeps its own copies: callers may reuse their slices.
	w := []byte("abc")
	if err := s.PutWrap(ctx, id, "kalias", w); err != nil {
		t.Fatal(err)
	}
	w[0] = 'X'
	got, err := s.GetWrap(ctx, id, "kalias")
	if err != nil || string(got) != "abc" {
		t.Fatalf("GetWrap after the caller changed its slice = %q, %v, want %q", got, err, "abc")
	}
	got[1] = 'Y'
	if got, _ := s.GetWrap(ctx, id, "kalias"); string(got) != "abc" {
		t.Fatalf("GetWrap after the caller changed a returned slice = %q, want %q", got, "abc")
	}
}

// testWrapNeedsBlob: a wrap can only be put for a stored blob, so that no wrap
// outlives its blob.
func testWrapNeedsBlob(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	b := content(100, 12)
	id := medledger.BlobIDOf(b)
	if err := s.PutWrap(ctx, id, "k1", []byte("wrap")); !medledger.IsKind(err, medledger.KindNotFound) {
		t.Fatalf("PutWrap for a blob not stored = %v, want kind not_found", err)
	}
	put(t, s, b)
	if keys, err := s.Wraps(ctx, id); err != nil || len(keys) != 0 {
		t.Fatalf("Wraps after a refused PutWrap = %q, %v, want none", keys, err)
	}
	if err := s.PutWrap(ctx, id, "k1", []byte("wrap")); err != nil {
		t.Fatalf("PutWrap once the blob is stored: %v", err)
	}
}

func testWrapSize(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	id := put(t, s, content(100, 13))
	for _, n := range []int{1, 8 << 10, blob.MaxWrapSize} {
		w := content(n, int64(n))
		if err := s.PutWrap(ctx, id, "k1", w); err != nil {
			t.Fatalf("PutWrap of %d bytes: %v", n, err)
		}
		if got, err := s.GetWrap(ctx, id, "k1"); err != nil || !bytes.Equal(got, w) {
			t.Fatalf("GetWrap of %d bytes = %d bytes, %v", n, len(got), err)
		}
	}
	kept := content(blob.MaxWrapSize, blob.MaxWrapSize)
	if err := s.PutWrap(ctx, id, "k1", make([]byte, blob.MaxWrapSize+1)); !medledger.IsKind(err, medledger.KindTooLarge) {
		t.Fatalf("PutWrap of MaxWrapSize+1 bytes = %v, want kind too_large", err)
	}
	for _, w := range [][]byte{nil, {}} {
		if err := s.PutWrap(ctx, id, "k1", w); !medledger.IsKind(err, medledger.KindInvalid) {
			t.Fatalf("PutWrap of an empty wrap = %v, want kind invalid", err)
		}
	}
	if got, err := s.GetWrap(ctx, id, "k1"); err != nil || !bytes.Equal(got, kept) {
		t.Fatalf("a refused PutWrap changed the stored wrap: %d bytes, %v", len(got), err)
	}
	if keys, _ := s.Wraps(ctx, id); !slices.Equal(keys, []string{"k1"}) {
		t.Fatalf("Wraps = %q, want [k1]", keys)
	}
}

func testReaderKeyIDs(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	id := put(t, s, content(100, 14))
	valid := []string{"k", "0", strings.Repeat("a", 64), "kcopdsqhgjnkjc4rardm2bv2b", "abcdefghijklmnopqrstuvwxyz0123456789"}
	invalid := []string{
		"", strings.Repeat("a", 65), "K", "kA", "a/b", "/a", "a/", "../a", "..", ".", ".a", "a.b",
		"a b", "a\x00", "a\\b", "a-b", "a_b", "/", "a\n", "\u00e4", "k\u0131", "a:b", "~",
	}
	for _, k := range valid {
		if err := s.PutWrap(ctx, id, k, []byte("w-"+k)); err != nil {
			t.Fatalf("PutWrap with valid key id %q: %v", k, err)
		}
		if got, err := s.GetWrap(ctx, id, k); err != nil || string(got) != "w-"+k {
			t.Fatalf("GetWrap with valid key id %q = %q, %v", k, got, err)
		}
	}
	for _, k := range invalid {
		if err := s.PutWrap(ctx, id, k, []byte("w")); !medledger.IsKind(err, medledger.KindInvalid) {
			t.Errorf("PutWrap with key id %q = %v, want kind invalid", k, err)
		}
		if _, err := s.GetWrap(ctx, id, k); !medledger.IsKind(err, medledger.KindInvalid) {
			t.Errorf("GetWrap with key id %q = %v, want kind invalid", k, err)
		}
	}
	want := slices.Clone(valid)
	slices.Sort(want)
	if keys, err := s.Wraps(ctx, id); err != nil || !slices.Equal(keys, want) {
		t.Fatalf("Wraps = %q, %v, want only the valid keys %q", keys, err, want)
	}
}

func testDelete(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	a := content(64<<10+1, 15)
	b := content(1000, 16)
	idA, idB := put(t, s, a), put(t, s, b)
	keys := []string{"k1", "k2", "k3"}
	for _, k := range keys {
		if err := s.PutWrap(ctx, idA, k, []byte("wrap "+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutWrap(ctx, idB, "k1", []byte("wrap b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, idA); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertAbsent(t, s, idA)
	for _, k := range keys {
		if _, err := s.GetWrap(ctx, idA, k); !medledger.IsKind(err, medledger.KindNotFound) {
			t.Fatalf("GetWrap %s after Delete = %v, want kind not_found", k, err)
		}
	}
	// The other blob and its wraps are untouched.
	if got := read(t, s, idB); !bytes.Equal(got, b) {
		t.Fatal("Delete changed another blob")
	}
	if w, err := s.GetWrap(ctx, idB, "k1"); err != nil || string(w) != "wrap b" {
		t.Fatalf("Delete changed another blob's wrap: %q, %v", w, err)
	}
	// Idempotent.
	if err := s.Delete(ctx, idA); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
	// Erased means erased: no wrap can be added, and putting the blob again
	// brings none of the old wraps back.
	if err := s.PutWrap(ctx, idA, "k1", []byte("late")); !medledger.IsKind(err, medledger.KindNotFound) {
		t.Fatalf("PutWrap after Delete = %v, want kind not_found", err)
	}
	put(t, s, a)
	if got, err := s.Wraps(ctx, idA); err != nil || len(got) != 0 {
		t.Fatalf("Wraps of a blob put again after Delete = %q, %v, want none", got, err)
	}
	if got := read(t, s, idA); !bytes.Equal(got, a) {
		t.Fatal("blob put again after Delete reads back different bytes")
	}
}

func testReaderError(t *testing.T, open opener) {
	s := open(t, limit)
	boom := errors.New("connection reset")
	b := content(200_000, 17)
	id := medledger.BlobIDOf(b)
	r := io.MultiReader(bytes.NewReader(b[:100_000]), iotest.ErrReader(boom))
	_, err := s.Put(t.Context(), id, r)
	if !errors.Is(err, boom) {
		t.Fatalf("Put with a failing reader = %v, want an error wrapping the reader's", err)
	}
	assertAbsent(t, s, id)
}

func testCancelledContext(t *testing.T, open opener) {
	s := open(t, limit)
	b := content(100, 18)
	id := put(t, s, b)
	if err := s.PutWrap(t.Context(), id, "k1", []byte("w")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	newBlob := content(100, 19)
	newID := medledger.BlobIDOf(newBlob)
	calls := map[string]func() error{
		"Put":     func() error { _, err := s.Put(ctx, newID, bytes.NewReader(newBlob)); return err },
		"Open":    func() error { _, _, err := s.Open(ctx, id); return err },
		"Has":     func() error { _, err := s.Has(ctx, id); return err },
		"Delete":  func() error { return s.Delete(ctx, id) },
		"PutWrap": func() error { return s.PutWrap(ctx, id, "k2", []byte("w")) },
		"GetWrap": func() error { _, err := s.GetWrap(ctx, id, "k1"); return err },
		"Wraps":   func() error { _, err := s.Wraps(ctx, id); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, err)
		}
	}
	assertAbsent(t, s, newID)
	if got := read(t, s, id); !bytes.Equal(got, b) {
		t.Fatal("a cancelled Delete removed the blob")
	}
	if keys, err := s.Wraps(t.Context(), id); err != nil || !slices.Equal(keys, []string{"k1"}) {
		t.Fatalf("Wraps after cancelled calls = %q, %v, want [k1]", keys, err)
	}
}

// testCancelDuringPut cancels while the store reads a fast endless upload:
// Put must return the context's error, not carry on to the size limit.
func testCancelDuringPut(t *testing.T, open opener) {
	s := open(t, 1<<30)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &endless{cancelAt: 300 << 10, cancel: cancel}
	id := medledger.BlobIDOf([]byte("cancelled"))
	errc := make(chan error, 1)
	go func() { _, err := s.Put(ctx, id, r); errc <- err }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put cancelled while reading = %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("Put did not stop when its context was cancelled")
	}
	// A store may read ahead a little, not to the 1 GiB limit.
	if n := r.n.Load(); n > 300<<10+4<<20 {
		t.Fatalf("Put read %d bytes after its context was cancelled at %d", n, 300<<10)
	}
	assertAbsent(t, s, id)
}

// testCancelBlockedPut cancels while the store waits in a Read that blocks,
// as a stalled client's upload does: one that sent nothing yet, and one that
// sent part of the blob.
func testCancelBlockedPut(t *testing.T, open opener) {
	for _, sent := range []int{0, 100_000} {
		t.Run(fmt.Sprint(sent), func(t *testing.T) {
			s := open(t, limit)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := &blocking{data: content(sent, 20), blocked: make(chan struct{}), release: make(chan struct{})}
			t.Cleanup(func() { close(r.release) })
			id := medledger.BlobIDOf(content(200_000, 20))
			errc := make(chan error, 1)
			go func() { _, err := s.Put(ctx, id, r); errc <- err }()
			select {
			case <-r.blocked:
			case err := <-errc:
				t.Fatalf("Put returned %v before its reader blocked", err)
			case <-time.After(wait):
				t.Fatal("Put never read its reader to the end of its data")
			}
			// Let the store take in what was sent, so that only the
			// cancellation can end Put.
			time.Sleep(20 * time.Millisecond)
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Put cancelled while its reader blocks = %v, want context.Canceled", err)
				}
			case <-time.After(wait):
				t.Fatal("Put did not return when its context was cancelled while its reader blocked")
			}
			assertAbsent(t, s, id)
		})
	}
}

func testConcurrentSamePut(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	b := content(300_000, 21)
	id := medledger.BlobIDOf(b)
	const n = 8
	start := make(chan struct{})
	errs := make([]error, n)
	sizes := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			sizes[i], errs[i] = s.Put(ctx, id, iotest.HalfReader(bytes.NewReader(b)))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || sizes[i] != int64(len(b)) {
			t.Errorf("concurrent Put %d = %d, %v, want %d, nil", i, sizes[i], errs[i], len(b))
		}
	}
	if got := read(t, s, id); !bytes.Equal(got, b) {
		t.Fatal("blob put concurrently reads back different bytes")
	}
}

// testConcurrentPutOpen opens blobs while they are being put: an Open finds
// nothing or the whole blob, never part of it.
func testConcurrentPutOpen(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	const n = 16
	blobs := make([][]byte, n)
	ids := make([]medledger.BlobID, n)
	for i := range n {
		blobs[i] = content(70_000+i*1000, int64(30+i))
		ids[i] = medledger.BlobIDOf(blobs[i])
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range n {
			if _, err := s.Put(ctx, ids[i], iotest.HalfReader(bytes.NewReader(blobs[i]))); err != nil {
				t.Errorf("Put %d: %v", i, err)
				return
			}
		}
	})
	var found atomic.Int64
	for r := range 4 {
		wg.Go(func() {
			for k := r; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				i := k % n
				rc, size, err := s.Open(ctx, ids[i])
				if medledger.IsKind(err, medledger.KindNotFound) {
					continue
				}
				if err != nil {
					t.Errorf("Open %d during Puts: %v", i, err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || size != int64(len(blobs[i])) || !bytes.Equal(got, blobs[i]) {
					t.Errorf("Open %d during Puts = %d (size %d) bytes, %v; want the whole blob", i, len(got), size, err)
					return
				}
				found.Add(1)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if got := read(t, s, ids[i]); !bytes.Equal(got, blobs[i]) {
			t.Fatalf("blob %d reads back different bytes after the Puts", i)
		}
	}
	t.Logf("%d whole blobs read during the Puts", found.Load())
}

func testConcurrentWraps(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	id := put(t, s, content(100, 22))
	const n = 8
	var wg sync.WaitGroup
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("k%d", i)
		wg.Go(func() {
			w := []byte("wrap " + want[i])
			for range 5 {
				if err := s.PutWrap(ctx, id, want[i], w); err != nil {
					t.Errorf("PutWrap %s: %v", want[i], err)
					return
				}
				if got, err := s.GetWrap(ctx, id, want[i]); err != nil || !bytes.Equal(got, w) {
					t.Errorf("GetWrap %s = %q, %v", want[i], got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if keys, err := s.Wraps(ctx, id); err != nil || !slices.Equal(keys, want) {
		t.Fatalf("Wraps = %q, %v, want %q", keys, err, want)
	}
}

// testDeleteRacesPutWrap runs Delete while PutWrap of the same blob runs in
// a loop: each PutWrap succeeds (before the Delete) or finds no blob (after
// it), and once the Delete is done no wrap is left.
func testDeleteRacesPutWrap(t *testing.T, open opener) {
	ctx := t.Context()
	s := open(t, limit)
	b := content(1000, 23)
	id := medledger.BlobIDOf(b)
	const writers = 4
	for round := range 30 {
		put(t, s, b)
		var wg, ready sync.WaitGroup
		ready.Add(writers)
		for k := range writers {
			wg.Go(func() {
				key := fmt.Sprintf("k%d", k)
				for i := 0; ; i++ {
					err := s.PutWrap(ctx, id, key, []byte("wrap"))
					if i == 0 {
						ready.Done()
					}
					if medledger.IsKind(err, medledger.KindNotFound) {
						return
					}
					if err != nil {
						t.Errorf("round %d: PutWrap %s = %v, want nil or kind not_found", round, key, err)
						return
					}
				}
			})
		}
		ready.Wait()
		if err := s.Delete(ctx, id); err != nil {
			t.Fatalf("round %d: Delete: %v", round, err)
		}
		wg.Wait()
		assertAbsent(t, s, id)
		for k := range writers {
			if _, err := s.GetWrap(ctx, id, fmt.Sprintf("k%d", k)); !medledger.IsKind(err, medledger.KindNotFound) {
				t.Fatalf("round %d: GetWrap k%d after Delete = %v, want kind not_found", round, k, err)
			}
		}
	}
}

// content returns n deterministic pseudo-random bytes.
func content(n int, seed int64) []byte {
	var key [32]byte
	copy(key[:], fmt.Sprint(seed, n))
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func flipped(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x10
	return c
}

// put stores b and returns its ID.
func put(t *testing.T, s medledger.BlobStore, b []byte) medledger.BlobID {
	t.Helper()
	id := medledger.BlobIDOf(b)
	if n, err := s.Put(t.Context(), id, bytes.NewReader(b)); err != nil || n != int64(len(b)) {
		t.Fatalf("Put of %d bytes = %d, %v", len(b), n, err)
	}
	return id
}

// read returns the bytes of blob id.
func read(t *testing.T, s medledger.BlobStore, id medledger.BlobID) []byte {
	t.Helper()
	rc, n, err := s.Open(t.Context(), id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", id, err)
	}
	if int64(len(b)) != n {
		t.Fatalf("Open %s reported %d bytes and returned %d", id, n, len(b))
	}
	return b
}

// assertAbsent checks that blob id is not stored, nor any wrap of it.
func assertAbsent(t *testing.T, s medledger.BlobStore, id medledger.BlobID) {
	t.Helper()
	ctx := t.Context()
	if ok, err := s.Has(ctx, id); err != nil || ok {
		t.Fatalf("Has %s = %v, %v, want false", id, ok, err)
	}
	if rc, _, err := s.Open(ctx, id); !medledger.IsKind(err, medledger.KindNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Open %s = %v, want kind not_found", id, err)
	}
	if keys, err := s.Wraps(ctx, id); err != nil || len(keys) != 0 {
		t.Fatalf("Wraps %s = %q, %v, want none", id, keys, err)
	}
}

// endless is a reader of zeros that never ends. It counts what it returns and
// calls cancel once it has returned cancelAt bytes, if cancelAt > 0.
type endless struct {
	n        atomic.Int64
	cancelAt int64
	cancel   func()
}

func (r *endless) Read(p []byte) (int, error) {
	clear(p)
	n := r.n.Add(int64(len(p)))
	if r.cancelAt > 0 && n >= r.cancelAt {
		r.cancel()
	}
	return len(p), nil
}

// blocking returns data, then closes blocked and blocks until release is
// closed, then reports io.EOF.
type blocking struct {
	data    []byte
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (r *blocking) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.once.Do(func() { close(r.blocked) })
	<-r.release
	return 0, io.EOF
}
