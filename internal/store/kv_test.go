package store

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble"
	dbm "github.com/cosmos/iavl/db"
)

func openPebble(t *testing.T) pebbleDB {
	t.Helper()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return pebbleDB{db}
}

func dump(t *testing.T, db dbm.DB, start, end []byte, reverse bool) []string {
	t.Helper()
	open := db.Iterator
	if reverse {
		open = db.ReverseIterator
	}
	it, err := open(start, end)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if s, e := it.Domain(); !bytes.Equal(s, start) || !bytes.Equal(e, end) {
		t.Fatalf("Domain() = %x, %x; want %x, %x", s, e, start, end)
	}
	var out []string
	for ; it.Valid(); it.Next() {
		out = append(out, fmt.Sprintf("%x=%x", it.Key(), it.Value()))
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAdapters checks pebbleDB, bare and under prefixDB, against IAVL's own
// MemDB: the same batches, then the same point reads and forward and
// reverse iterations.
func TestAdapters(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	peb, mem := openPebble(t), dbm.NewMemDB()
	pairs := []struct {
		name string
		a, b dbm.DB
	}{
		{"bare", peb, mem},
		{"prefixed", prefixDB{peb, []byte("s/")}, prefixDB{mem, []byte("s/")}},
	}
	// Noise just outside the prefix on both sides.
	for _, db := range []dbm.DB{peb, mem} {
		b := db.NewBatch()
		b.Set([]byte("s."), []byte("below"))
		b.Set([]byte("s0"), []byte("above"))
		b.Write()
		b.Close()
	}
	for _, p := range pairs {
		for round := range 20 {
			ba, bb := p.a.NewBatchWithSize(100), p.b.NewBatch()
			for range 30 {
				k := randKey(r)
				if r.Intn(3) == 0 {
					must(t, ba.Delete(k))
					must(t, bb.Delete(k))
				} else {
					v := []byte(fmt.Sprint(round))
					if r.Intn(10) == 0 {
						v = []byte{} // empty values exist (IAVL's empty root)
					}
					must(t, ba.Set(k, v))
					must(t, bb.Set(k, v))
				}
			}
			if n, err := ba.GetByteSize(); err != nil || n == 0 {
				t.Fatalf("GetByteSize = %d, %v", n, err)
			}
			must(t, ba.WriteSync())
			must(t, bb.Write())
			if err := ba.Set([]byte("k"), []byte("v")); err == nil {
				t.Fatal("Set after Write succeeded")
			}
			must(t, ba.Close())
			must(t, ba.Close())
			bb.Close()
			for range 20 {
				k := randKey(r)
				va, err1 := p.a.Get(k)
				vb, err2 := p.b.Get(k)
				ha, _ := p.a.Has(k)
				if err1 != nil || err2 != nil || !bytes.Equal(va, vb) || (va == nil) != (vb == nil) || ha != (vb != nil) {
					t.Fatalf("%s: Get(%x) = %x, %v; MemDB %x, %v; Has %v", p.name, k, va, err1, vb, err2, ha)
				}
				start, end := randBound(r), randBound(r)
				if start != nil && end != nil && bytes.Compare(start, end) > 0 {
					continue // MemDB's behaviour there is not specified
				}
				for _, rev := range []bool{false, true} {
					if got, want := dump(t, p.a, start, end, rev), dump(t, p.b, start, end, rev); !slices.Equal(got, want) {
						t.Fatalf("%s: iterate(%x, %x, reverse %v) = %v, MemDB %v", p.name, start, end, rev, got, want)
					}
				}
			}
		}
	}
	// Inverted and empty domains are empty, not an error.
	if got := dump(t, peb, []byte("b"), []byte("a"), false); len(got) != 0 {
		t.Fatalf("inverted domain: %v", got)
	}
	if got := dump(t, peb, []byte("a"), []byte("a"), true); len(got) != 0 {
		t.Fatalf("empty domain: %v", got)
	}
	if _, err := peb.Get(nil); err == nil {
		t.Fatal("Get of an empty key succeeded")
	}
}
