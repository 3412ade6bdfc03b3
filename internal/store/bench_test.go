package store

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"medledger/client"
)

// benchKey is a 36-byte key in random order, like a hashed record ID.
func benchKey(i int) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	return append([]byte("rec/"), h[:]...)
}

var benchValue = make([]byte, 100)

// populate writes n keys in blocks of 1,000 writes.
func populate(b *testing.B, s *Store, from, n int) {
	b.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Set(benchKey(i), benchValue); err != nil {
			b.Fatal(err)
		}
		if (i+1)%1000 == 0 {
			if _, _, err := s.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, _, err := s.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommit1000Writes is one block: 1,000 new keys and a commit, on
// Pebble, over a tree that already holds 100,000 keys.
func BenchmarkCommit1000Writes(b *testing.B) {
	for _, c := range []struct {
		name string
		sync bool
		keep int64
	}{{"sync", true, 0}, {"nosync", false, 0}, {"sync-keep100", true, 100}} {
		b.Run(c.name, func(b *testing.B) {
			opts := DefaultOptions()
			opts.Sync, opts.KeepVersions = c.sync, c.keep
			s, err := Open(b.TempDir(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			populate(b, s, 0, 100_000)
			next := 100_000
			b.ResetTimer()
			for range b.N {
				for range 1000 {
					if err := s.Set(benchKey(next), benchValue); err != nil {
						b.Fatal(err)
					}
					if next%4 == 0 { // a few index writes per block too
						s.Index().Set(benchKey(next), []byte{1})
					}
					next++
				}
				if _, _, err := s.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	opts := DefaultOptions()
	opts.Sync = false
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	populate(b, s, 0, 100_000)
	return s
}

// BenchmarkGet reads existing keys from a 100,000-key tree: the working tree
// (the ledger's reads), and committed versions as the API reads them.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	b.Run("working", func(b *testing.B) {
		for i := range b.N {
			if v, _ := s.Get(benchKey(i % 100_000)); v == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("GetAt-latest", func(b *testing.B) {
		for i := range b.N {
			if v, _ := s.GetAt(benchKey(i%100_000), s.Version()); v == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("GetAt-old", func(b *testing.B) {
		for i := range b.N {
			if v, _ := s.GetAt(benchKey(i%50_000), 60); v == nil {
				b.Fatal("missing")
			}
		}
	})
}

// BenchmarkProve proves present and absent keys at the latest version of a
// 100,000-key tree and reports the proof size.
func BenchmarkProve(b *testing.B) {
	s := benchStore(b)
	for _, c := range []struct {
		name   string
		offset int
	}{{"present", 0}, {"absent", 1_000_000}} {
		b.Run(c.name, func(b *testing.B) {
			size := 0
			for i := range b.N {
				_, p, err := s.Prove(benchKey(c.offset+i%100_000), s.Version())
				if err != nil {
					b.Fatal(err)
				}
				size += len(p)
			}
			b.ReportMetric(float64(size)/float64(b.N), "proof-bytes")
		})
	}
}

// BenchmarkVerifyState verifies proofs from a 100,000-key tree.
func BenchmarkVerifyState(b *testing.B) {
	s := benchStore(b)
	for _, c := range []struct {
		name   string
		offset int
	}{{"present", 0}, {"absent", 1_000_000}} {
		b.Run(c.name, func(b *testing.B) {
			type proved struct{ key, value, proof []byte }
			ps := make([]proved, 256)
			for i := range ps {
				k := benchKey(c.offset + i)
				v, p, err := s.Prove(k, s.Version())
				if err != nil {
					b.Fatal(err)
				}
				ps[i] = proved{k, v, p}
			}
			root := s.Hash()
			b.ResetTimer()
			for i := range b.N {
				p := ps[i%len(ps)]
				if err := client.VerifyState(root, p.key, p.value, p.proof); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
