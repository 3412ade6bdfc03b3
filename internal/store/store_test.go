package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	dbm "github.com/cosmos/iavl/db"

	"medledger/client"
	"medledger/internal/state"
)

// backends opens one store per backend: IAVL's memory DB and Pebble.
func backends(t testing.TB, opts Options) map[string]*Store {
	t.Helper()
	mem, err := open(dbm.NewMemDB(), opts)
	if err != nil {
		t.Fatal(err)
	}
	peb, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close(); peb.Close() })
	return map[string]*Store{"mem": mem, "pebble": peb}
}

func fastOptions() Options { o := DefaultOptions(); o.Sync = false; return o }

// randKey draws from a small key space with awkward bytes, so that keys
// collide, share prefixes and sit next to each other.
func randKey(r *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xfe, 0xff}
	k := make([]byte, 1+r.Intn(3))
	for i := range k {
		k[i] = alphabet[r.Intn(len(alphabet))]
	}
	return k
}

func randBound(r *rand.Rand) []byte {
	if r.Intn(4) == 0 {
		return nil
	}
	return randKey(r)
}

type kv struct{ k, v string }

func collect(t testing.TB, rd state.Reader, start, end []byte, limit int) []kv {
	t.Helper()
	var out []kv
	err := rd.Iterate(start, end, func(k, v []byte) bool {
		out = append(out, kv{string(k), string(v)})
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func snapshot(m *state.Mem) map[string]string {
	out := map[string]string{}
	m.Iterate(nil, nil, func(k, v []byte) bool { out[string(k)] = string(v); return true })
	return out
}

func restore(snap map[string]string) *state.Mem {
	m := state.NewMem()
	for k, v := range snap {
		m.Set([]byte(k), []byte(v))
	}
	return m
}

// TestDifferential runs random operations on the store and on state.Mem and
// requires the same answers, including across commits, rollbacks and
// committed-version reads.
func TestDifferential(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		for name, s := range backends(t, fastOptions()) {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				differential(t, s, rand.New(rand.NewSource(seed)), 3000)
			})
		}
	}
}

func differential(t *testing.T, s *Store, r *rand.Rand, steps int) {
	ref := state.NewMem()
	committed := []map[string]string{snapshot(ref)} // by version
	refIdx := state.NewMem()
	committedIdx := snapshot(refIdx)
	for step := 0; step < steps; step++ {
		k := randKey(r)
		switch op := r.Intn(100); {
		case op < 35:
			v := []byte(fmt.Sprint("v", step))
			must(t, s.Set(k, v))
			must(t, ref.Set(k, v))
		case op < 50:
			must(t, s.Delete(k))
			must(t, ref.Delete(k))
		case op < 60:
			got, err := s.Get(k)
			must(t, err)
			want, _ := ref.Get(k)
			if !bytes.Equal(got, want) {
				t.Fatalf("step %d: Get(%x) = %q, want %q", step, k, got, want)
			}
		case op < 75:
			start, end, limit := randBound(r), randBound(r), r.Intn(6)
			if got, want := collect(t, s, start, end, limit), collect(t, ref, start, end, limit); !slices.Equal(got, want) {
				t.Fatalf("step %d: Iterate(%x, %x, limit %d) = %v, want %v", step, start, end, limit, got, want)
			}
		case op < 82: // the index, through its buffer
			if r.Intn(2) == 0 {
				v := []byte(fmt.Sprint("i", step))
				must(t, s.Index().Set(k, v))
				must(t, refIdx.Set(k, v))
			} else {
				must(t, s.Index().Delete(k))
				must(t, refIdx.Delete(k))
			}
			start, end := randBound(r), randBound(r)
			if got, want := collect(t, s.Index(), start, end, 0), collect(t, refIdx, start, end, 0); !slices.Equal(got, want) {
				t.Fatalf("step %d: Index().Iterate(%x, %x) = %v, want %v", step, start, end, got, want)
			}
		case op < 88:
			v := 1 + r.Int63n(s.Version()+1)
			got, err := s.GetAt(k, v)
			if v > s.Version() {
				if !errors.Is(err, ErrVersionUnavailable) {
					t.Fatalf("step %d: GetAt future version %d: err %v", step, v, err)
				}
				break
			}
			must(t, err)
			want, ok := committed[v][string(k)]
			if !bytes.Equal(got, []byte(want)) || (got != nil) != ok {
				t.Fatalf("step %d: GetAt(%x, %d) = %q, want %q", step, k, v, got, want)
			}
		case op < 95:
			wh := s.WorkingHash()
			h, v, err := s.Commit()
			must(t, err)
			if v != int64(len(committed)) || !bytes.Equal(h, wh) || !bytes.Equal(h, s.Hash()) || v != s.Version() || s.IndexVersion() != v {
				t.Fatalf("step %d: Commit = %x, %d; working hash %x, Hash %x, Version %d, IndexVersion %d",
					step, h, v, wh, s.Hash(), s.Version(), s.IndexVersion())
			}
			committed = append(committed, snapshot(ref))
			committedIdx = snapshot(refIdx)
		default:
			s.Rollback()
			ref = restore(committed[len(committed)-1])
			refIdx = restore(committedIdx)
			if !bytes.Equal(s.WorkingHash(), s.Hash()) {
				t.Fatalf("step %d: WorkingHash after Rollback differs from Hash", step)
			}
		}
	}
	if got, want := collect(t, s, nil, nil, 0), collect(t, ref, nil, nil, 0); !slices.Equal(got, want) {
		t.Fatalf("final content differs: %v, want %v", got, want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestIterateWhileWriting writes from inside Iterate callbacks, in both the
// tree and the index, behind and ahead of the cursor.
func TestIterateWhileWriting(t *testing.T) {
	for name, s := range backends(t, fastOptions()) {
		t.Run(name, func(t *testing.T) {
			for _, rw := range []state.ReadWriter{s, s.Index()} {
				for i := range 3000 {
					must(t, rw.Set(fmt.Appendf(nil, "b%05d", i), []byte("v")))
				}
				if rw == s {
					_, _, err := s.Commit()
					must(t, err)
				}
				n := 0
				err := rw.Iterate([]byte("b"), []byte("c"), func(k, v []byte) bool {
					n++
					must(t, rw.Delete(k))                         // the current key
					must(t, rw.Set(append([]byte("a"), k...), v)) // behind the cursor
					if n%2 == 0 {
						// ahead of the cursor, outside the range
						must(t, rw.Set(append([]byte("c"), k...), v))
					}
					got, err := rw.Get(append([]byte("a"), k...))
					must(t, err)
					if string(got) != "v" {
						t.Fatalf("read back %q", got)
					}
					return true
				})
				must(t, err)
				if n != 3000 {
					t.Fatalf("visited %d keys, want 3000", n)
				}
				if a, b, c := len(collect(t, rw, []byte("a"), []byte("b"), 0)), len(collect(t, rw, []byte("b"), []byte("c"), 0)), len(collect(t, rw, []byte("c"), nil, 0)); a != 3000 || b != 0 || c != 1500 {
					t.Fatalf("after the moves: %d a-keys, %d b-keys, %d c-keys", a, b, c)
				}
			}
		})
	}
}

// TestDeterminism replays one random history on both backends and requires
// the same hash at every version, and a different hash for different content.
func TestDeterminism(t *testing.T) {
	ss := backends(t, fastOptions())
	mem, peb := ss["mem"], ss["pebble"]
	r := rand.New(rand.NewSource(7))
	seen := map[string]int64{}
	for v := int64(1); v <= 40; v++ {
		for range r.Intn(50) {
			k, val, del := randKey(r), []byte(fmt.Sprint(r.Intn(1000))), r.Intn(3) == 0
			for _, s := range []*Store{mem, peb} {
				if del {
					must(t, s.Delete(k))
				} else {
					must(t, s.Set(k, val))
				}
			}
		}
		if !bytes.Equal(mem.WorkingHash(), peb.WorkingHash()) {
			t.Fatalf("version %d: working hashes differ", v)
		}
		h1, v1, err1 := mem.Commit()
		h2, v2, err2 := peb.Commit()
		must(t, errors.Join(err1, err2))
		if v1 != v || v2 != v || !bytes.Equal(h1, h2) {
			t.Fatalf("version %d: mem %d %x, pebble %d %x", v, v1, h1, v2, h2)
		}
		if prev, ok := seen[string(h1)]; ok {
			t.Fatalf("version %d repeats the hash of version %d", v, prev)
		}
		seen[string(h1)] = v
	}
	// A one-byte change gives a different hash.
	before := mem.WorkingHash()
	must(t, mem.Set([]byte("a"), []byte("changed")))
	if bytes.Equal(before, mem.WorkingHash()) {
		t.Fatal("a write did not change the working hash")
	}
}

// The version is part of IAVL's hash: the same content committed at a
// different version hashes differently, which the docs promise.
func TestHashIncludesVersion(t *testing.T) {
	a, _ := OpenMem()
	b, _ := OpenMem()
	must(t, a.Set([]byte("k"), []byte("v")))
	ha, _, _ := a.Commit()
	_, _, _ = b.Commit() // an empty version first
	must(t, b.Set([]byte("k"), []byte("v")))
	hb, _, _ := b.Commit()
	if bytes.Equal(ha, hb) {
		t.Fatal("same content at versions 1 and 2 hashed the same")
	}
}

var emptyHash = sha256.New().Sum(nil)

func TestEmptyTree(t *testing.T) {
	for name, s := range backends(t, fastOptions()) {
		t.Run(name, func(t *testing.T) {
			if s.Version() != 0 || !bytes.Equal(s.Hash(), emptyHash) || !bytes.Equal(s.WorkingHash(), emptyHash) {
				t.Fatalf("fresh store: version %d, hash %x, working %x", s.Version(), s.Hash(), s.WorkingHash())
			}
			must(t, s.Set([]byte("k"), []byte("v")))
			must(t, s.Delete([]byte("k")))
			h, v, err := s.Commit()
			must(t, err)
			if v != 1 || !bytes.Equal(h, emptyHash) {
				t.Fatalf("empty commit: %d %x", v, h)
			}
			if err := s.Set([]byte("k"), nil); !errors.Is(err, state.ErrEmptyValue) {
				t.Fatalf("Set nil: %v", err)
			}
			if err := s.Set([]byte("k"), []byte{}); !errors.Is(err, state.ErrEmptyValue) {
				t.Fatalf("Set empty: %v", err)
			}
			if err := s.Index().Set([]byte("k"), []byte{}); !errors.Is(err, state.ErrEmptyValue) {
				t.Fatalf("Index().Set empty: %v", err)
			}
			// The empty tree proves absence with an empty proof.
			val, proof, err := s.Prove([]byte("k"), 1)
			must(t, err)
			if val != nil || len(proof) != 0 {
				t.Fatalf("empty-tree proof: %q %x", val, proof)
			}
			must(t, client.VerifyState(h, []byte("k"), nil, proof))
			if client.VerifyState(h, []byte("k"), []byte("v"), proof) == nil {
				t.Fatal("empty proof proved presence")
			}
		})
	}
}

// TestPersistence commits versions, closes and reopens.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, DefaultOptions())
	must(t, err)
	type op struct {
		k, v []byte // nil v: delete
	}
	apply := func(s *Store, ops []op) {
		for _, o := range ops {
			if o.v == nil {
				must(t, s.Delete(o.k))
			} else {
				must(t, s.Set(o.k, o.v))
			}
		}
	}
	r := rand.New(rand.NewSource(3))
	ref := state.NewMem()
	var history [][]op
	var hashes [][]byte
	var contents []map[string]string
	for range 12 {
		var ops []op
		for range 30 {
			o := op{k: randKey(r), v: []byte(fmt.Sprint(r.Int()))}
			if r.Intn(4) == 0 {
				o.v = nil
				must(t, ref.Delete(o.k))
			} else {
				must(t, ref.Set(o.k, o.v))
			}
			ops = append(ops, o)
		}
		apply(s, ops)
		history = append(history, ops)
		must(t, s.Index().Set([]byte(fmt.Sprint("idx", len(hashes))), []byte("x")))
		h, _, err := s.Commit()
		must(t, err)
		hashes = append(hashes, h)
		contents = append(contents, snapshot(ref))
	}
	// Uncommitted writes, to the tree and the index.
	must(t, s.Set([]byte("uncommitted"), []byte("x")))
	must(t, s.Delete([]byte(slices.Sorted(maps.Keys(contents[11]))[0])))
	must(t, s.Index().Set([]byte("idx-uncommitted"), []byte("x")))
	must(t, s.Close())

	s, err = Open(dir, DefaultOptions())
	must(t, err)
	defer s.Close()
	if s.Version() != 12 || !bytes.Equal(s.Hash(), hashes[11]) || !bytes.Equal(s.WorkingHash(), hashes[11]) || s.IndexVersion() != 12 {
		t.Fatalf("reopened: version %d, index version %d, hash %x, want %x", s.Version(), s.IndexVersion(), s.Hash(), hashes[11])
	}
	if got, want := collect(t, s, nil, nil, 0), collect(t, restore(contents[11]), nil, nil, 0); !slices.Equal(got, want) {
		t.Fatalf("reopened content %v, want %v", got, want)
	}
	if v, _ := s.Index().Get([]byte("idx-uncommitted")); v != nil {
		t.Fatal("uncommitted index write survived")
	}
	if got := len(collect(t, s.Index(), nil, nil, 0)); got != 12 {
		t.Fatalf("%d index keys after reopen, want 12", got)
	}
	for v := int64(1); v <= 12; v++ {
		for k, want := range contents[v-1] {
			got, err := s.GetAt([]byte(k), v)
			must(t, err)
			if string(got) != want {
				t.Fatalf("GetAt(%x, %d) = %q, want %q", k, v, got, want)
			}
		}
	}
	// It goes on from where it was, as a store that never closed would.
	last := []op{{k: []byte("next"), v: []byte("x")}}
	apply(s, last)
	h13, v13, err := s.Commit()
	must(t, err)
	m, err := OpenMem()
	must(t, err)
	for _, ops := range append(history, last) {
		apply(m, ops)
		_, _, err := m.Commit()
		must(t, err)
	}
	if v13 != 13 || !bytes.Equal(h13, m.Hash()) {
		t.Fatalf("after reopen: version %d hash %x, replay %x", v13, h13, m.Hash())
	}
}

// TestProofs proves presence and absence at the latest and older versions
// and checks that VerifyState rejects every kind of mismatch.
func TestProofs(t *testing.T) {
	for name, s := range backends(t, Options{Sync: false, KeepVersions: 3}) {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 100; i += 2 { // even keys only: odd ones are gaps
				must(t, s.Set(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i)))
			}
			h1, _, err := s.Commit()
			must(t, err)
			must(t, s.Delete([]byte("k010")))
			must(t, s.Set([]byte("k020"), []byte("changed")))
			h2, _, err := s.Commit()
			must(t, err)
			hashes := map[int64][]byte{1: h1, 2: h2}

			cases := []struct {
				key     string
				version int64
				want    string // "" for absent
			}{
				{"k000", 2, "v0"}, {"k098", 2, "v98"}, {"k020", 2, "changed"}, {"k020", 1, "v20"},
				{"k010", 1, "v10"}, {"k010", 2, ""}, // deleted at 2
				{"k011", 2, ""}, {"a", 2, ""}, {"z", 2, ""}, {"k", 1, ""}, {"k0999", 1, ""},
			}
			for _, c := range cases {
				val, proof, err := s.Prove([]byte(c.key), c.version)
				must(t, err)
				if string(val) != c.want || (val == nil) != (c.want == "") {
					t.Fatalf("Prove(%s, %d) value %q, want %q", c.key, c.version, val, c.want)
				}
				root := hashes[c.version]
				if err := client.VerifyState(root, []byte(c.key), val, proof); err != nil {
					t.Fatalf("Prove(%s, %d): %v", c.key, c.version, err)
				}
				other := hashes[3-c.version]
				if err := client.VerifyState(other, []byte(c.key), val, proof); !errors.Is(err, client.ErrProofRoot) {
					t.Fatalf("%s@%d against the other version's hash: %v", c.key, c.version, err)
				}
				if err := client.VerifyState(root, []byte(c.key+"x"), val, proof); !errors.Is(err, client.ErrProofKey) {
					t.Fatalf("%s@%d for another key: %v", c.key, c.version, err)
				}
				if val != nil {
					if err := client.VerifyState(root, []byte(c.key), []byte("forged"), proof); !errors.Is(err, client.ErrProofValue) {
						t.Fatalf("%s@%d with a forged value: %v", c.key, c.version, err)
					}
					if err := client.VerifyState(root, []byte(c.key), nil, proof); !errors.Is(err, client.ErrProofPresence) {
						t.Fatalf("%s@%d claimed absent: %v", c.key, c.version, err)
					}
				} else if err := client.VerifyState(root, []byte(c.key), []byte("v"), proof); !errors.Is(err, client.ErrProofAbsence) {
					t.Fatalf("%s@%d claimed present: %v", c.key, c.version, err)
				}
				// Flipping any single byte of the proof must not verify.
				for i := range proof {
					bad := bytes.Clone(proof)
					bad[i] ^= 0x01
					if client.VerifyState(root, []byte(c.key), val, bad) == nil {
						t.Fatalf("%s@%d: proof with byte %d flipped verified", c.key, c.version, i)
					}
				}
				if client.VerifyState(root, []byte(c.key), val, proof[:len(proof)/2]) == nil {
					t.Fatalf("%s@%d: truncated proof verified", c.key, c.version)
				}
			}
			// A non-existence proof of one gap does not prove another.
			_, p, _ := s.Prove([]byte("k011"), 2)
			if err := client.VerifyState(h2, []byte("k013"), nil, p); err == nil {
				t.Fatal("non-existence proof reused for another key")
			}

			// Versions that are not there.
			for _, v := range []int64{0, -1, 3, 100} {
				if _, _, err := s.Prove([]byte("k000"), v); !errors.Is(err, ErrVersionUnavailable) {
					t.Fatalf("Prove at version %d: %v", v, err)
				}
				if _, err := s.GetAt([]byte("k000"), v); !errors.Is(err, ErrVersionUnavailable) {
					t.Fatalf("GetAt at version %d: %v", v, err)
				}
			}
			// KeepVersions 3: committing 5 versions prunes 1 and 2.
			for range 3 {
				must(t, s.Set([]byte("k000"), []byte(fmt.Sprint(s.Version()))))
				_, _, err := s.Commit()
				must(t, err)
			}
			for v := int64(1); v <= 5; v++ {
				_, _, err := s.Prove([]byte("k000"), v)
				if pruned := v <= 2; pruned != errors.Is(err, ErrVersionUnavailable) || (!pruned && err != nil) {
					t.Fatalf("Prove at version %d of 5, keeping 3: %v", v, err)
				}
			}
		})
	}
}

// TestIndex covers buffering, flushing, rollback, reset and the crash window
// between the tree and the index writes of a commit.
func TestIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, DefaultOptions())
	must(t, err)
	ix := s.Index()
	must(t, ix.Set([]byte("p/1"), []byte("a")))
	must(t, ix.Set([]byte("p/2"), []byte("b")))
	if v, _ := ix.Get([]byte("p/1")); string(v) != "a" {
		t.Fatalf("buffered write not visible: %q", v)
	}
	if v, _ := s.raw.Get(indexKey([]byte("p/1"))); v != nil {
		t.Fatal("index write reached Pebble before commit")
	}
	must(t, s.Set([]byte("t"), []byte("1")))
	_, v, err := s.Commit()
	must(t, err)
	if s.IndexVersion() != v {
		t.Fatalf("IndexVersion %d after commit %d", s.IndexVersion(), v)
	}
	if got, _ := s.raw.Get(indexKey([]byte("p/2"))); string(got) != "b" {
		t.Fatalf("index not flushed: %q", got)
	}

	// Rollback drops buffered index writes.
	must(t, ix.Set([]byte("p/3"), []byte("c")))
	must(t, ix.Delete([]byte("p/1")))
	s.Rollback()
	if got := collect(t, ix, nil, nil, 0); !slices.Equal(got, []kv{{"p/1", "a"}, {"p/2", "b"}}) {
		t.Fatalf("after Rollback: %v", got)
	}

	// A commit with no index writes still moves IndexVersion.
	_, v, err = s.Commit()
	must(t, err)
	if v != 2 || s.IndexVersion() != 2 {
		t.Fatalf("version %d, index version %d", v, s.IndexVersion())
	}

	// The crash window: the tree is saved, the index is not.
	errCrash := errors.New("crash")
	s.afterSave = func() error { return errCrash }
	must(t, s.Set([]byte("t"), []byte("2")))
	must(t, ix.Set([]byte("p/4"), []byte("d")))
	if _, _, err := s.Commit(); !errors.Is(err, errCrash) {
		t.Fatalf("Commit: %v", err)
	}
	must(t, s.Close())
	s, err = Open(dir, DefaultOptions())
	must(t, err)
	defer s.Close()
	if s.Version() != 3 || s.IndexVersion() != 2 {
		t.Fatalf("after the crash: version %d, index version %d", s.Version(), s.IndexVersion())
	}
	if v, _ := s.Index().Get([]byte("p/4")); v != nil {
		t.Fatal("index write of the crashed commit survived")
	}
	// Rebuild: reset, write, flush.
	must(t, s.ResetIndex())
	if s.IndexVersion() != 0 || len(collect(t, s.Index(), nil, nil, 0)) != 0 {
		t.Fatalf("after ResetIndex: index version %d, %v", s.IndexVersion(), collect(t, s.Index(), nil, nil, 0))
	}
	must(t, s.Index().Set([]byte("p/9"), []byte("z")))
	must(t, s.FlushIndex())
	if s.IndexVersion() != 3 {
		t.Fatalf("IndexVersion after FlushIndex %d", s.IndexVersion())
	}
	if got, _ := s.raw.Get(indexKey([]byte("p/9"))); string(got) != "z" {
		t.Fatal("FlushIndex did not write")
	}
}

// ResetIndex deletes in batches; make it take several.
func TestResetIndexLarge(t *testing.T) {
	s, err := OpenMem()
	must(t, err)
	for i := range 25_000 {
		must(t, s.Index().Set(fmt.Appendf(nil, "i%06d", i), []byte("x")))
	}
	must(t, s.Set([]byte("k"), []byte("x"))) // a tree key must survive
	_, _, err = s.Commit()
	must(t, err)
	must(t, s.Index().Set([]byte("buffered"), []byte("x")))
	must(t, s.ResetIndex())
	if got := collect(t, s.Index(), nil, nil, 0); len(got) != 0 {
		t.Fatalf("%d index keys left", len(got))
	}
	if v, _ := s.Get([]byte("k")); string(v) != "x" {
		t.Fatal("ResetIndex touched the tree")
	}
}

// TestConcurrentReaders proves and reads committed versions from several
// goroutines while the ledger writes, commits and prunes. Run with -race.
func TestConcurrentReaders(t *testing.T) {
	s, err := Open(t.TempDir(), Options{KeepVersions: 4})
	must(t, err)
	defer s.Close()
	var hashes sync.Map // version → hash
	var done atomic.Bool
	var wg sync.WaitGroup
	var proved atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for !done.Load() {
				latest := s.Version()
				if latest == 0 {
					continue
				}
				v := latest - r.Int63n(6)
				h, ok := hashes.Load(v)
				key := fmt.Appendf(nil, "k%03d", r.Intn(300))
				val, proof, err := s.Prove(key, v)
				if errors.Is(err, ErrVersionUnavailable) || !ok {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if err := client.VerifyState(h.([]byte), key, val, proof); err != nil {
					t.Errorf("version %d key %s: %v", v, key, err)
					return
				}
				got, err := s.GetAt(key, v)
				if err != nil && !errors.Is(err, ErrVersionUnavailable) {
					t.Error(err)
					return
				}
				if err == nil && !bytes.Equal(got, val) {
					t.Errorf("GetAt %q, Prove %q", got, val)
					return
				}
				proved.Add(1)
				// A whole version, read in chunks, agrees with point reads of it.
				if rd, err := s.ReaderAt(v); err == nil {
					err = rd.Iterate(nil, nil, func(k, val []byte) bool {
						got, err := rd.Get(k)
						if err == nil && !bytes.Equal(got, val) {
							t.Errorf("version %d: Iterate gave %s=%q, Get %q", v, k, val, got)
						}
						return err == nil
					})
					if err != nil && !errors.Is(err, ErrVersionUnavailable) {
						t.Error(err)
					}
				}
			}
		}()
	}
	r := rand.New(rand.NewSource(99))
	for v := int64(1); v <= 60; v++ {
		for range 100 {
			k := fmt.Appendf(nil, "k%03d", r.Intn(300))
			if r.Intn(4) == 0 {
				must(t, s.Delete(k))
			} else {
				must(t, s.Set(k, fmt.Appendf(nil, "%d", r.Int())))
			}
			s.Get(k)
		}
		s.Iterate(nil, nil, func(k, v []byte) bool { return len(k) > 0 && v[0] != 'x' })
		h, cv, err := s.Commit()
		must(t, err)
		hashes.Store(cv, h)
	}
	done.Store(true)
	wg.Wait()
	if proved.Load() == 0 {
		t.Fatal("no reader ever proved anything")
	}
	t.Logf("%d proofs checked concurrently", proved.Load())
}

// countingDB counts the batches written to it.
type countingDB struct {
	dbm.DB
	writes *int
}

func (c countingDB) NewBatch() dbm.Batch { return countingBatch{c.DB.NewBatch(), c.writes} }
func (c countingDB) NewBatchWithSize(n int) dbm.Batch {
	return countingBatch{c.DB.NewBatchWithSize(n), c.writes}
}

type countingBatch struct {
	dbm.Batch
	writes *int
}

func (b countingBatch) Write() error     { *b.writes++; return b.Batch.Write() }
func (b countingBatch) WriteSync() error { *b.writes++; return b.Batch.WriteSync() }

// A version far larger than IAVL's default 100 KB flush threshold still goes
// to the database in one batch (and the index in a second), which is what
// makes a commit crash-atomic.
func TestCommitIsOneBatch(t *testing.T) {
	writes := 0
	s, err := open(countingDB{dbm.NewMemDB(), &writes}, DefaultOptions())
	must(t, err)
	for i := range 5000 {
		must(t, s.Set(fmt.Appendf(nil, "key-%06d", i), bytes.Repeat([]byte{1}, 100)))
	}
	must(t, s.Index().Set([]byte("i"), []byte("x")))
	writes = 0
	_, _, err = s.Commit()
	must(t, err)
	if writes != 2 {
		t.Fatalf("Commit wrote %d batches, want 2 (tree, index)", writes)
	}
}
