package blob_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"medledger"
	"medledger/internal/blob"
)

func benchStores(b *testing.B) map[string]func(*testing.B) medledger.BlobStore {
	return map[string]func(*testing.B) medledger.BlobStore{
		"dir": func(b *testing.B) medledger.BlobStore {
			d, err := blob.OpenDir(b.TempDir(), blob.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return d
		},
		"mem": func(*testing.B) medledger.BlobStore { return blob.NewMem(0) },
	}
}

// BenchmarkPut1MiB puts distinct 1 MiB blobs, fsync included for dir. Making
// each blob, hashing it and deleting it afterwards are not timed.
func BenchmarkPut1MiB(b *testing.B) {
	for _, name := range []string{"dir", "mem"} {
		b.Run(name, func(b *testing.B) {
			s := benchStores(b)[name](b)
			ctx := b.Context()
			data := randBytes(1<<20, 1)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var i uint64
			for b.Loop() {
				b.StopTimer()
				i++
				binary.LittleEndian.PutUint64(data, i)
				id := medledger.BlobIDOf(data)
				b.StartTimer()
				if _, err := s.Put(ctx, id, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(ctx, id); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkOpen1MiB opens a 1 MiB blob and reads it to the end, checking its
// hash.
func BenchmarkOpen1MiB(b *testing.B) {
	for _, name := range []string{"dir", "mem"} {
		b.Run(name, func(b *testing.B) {
			s := benchStores(b)[name](b)
			ctx := b.Context()
			data := randBytes(1<<20, 2)
			id := medledger.BlobIDOf(data)
			if _, err := s.Put(ctx, id, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rc, _, err := s.Open(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(data)) {
					b.Fatal(n, err)
				}
				rc.Close()
			}
		})
	}
}
