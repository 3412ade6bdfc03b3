package blob_test

import (
	"bytes"
	"testing"

	"medledger"
	"medledger/internal/blob"
	"medledger/internal/blob/blobtest"
)

func openMem(t *testing.T, limit int64) medledger.BlobStore { return blob.NewMem(limit) }

func corruptMem(t *testing.T, s medledger.BlobStore, id medledger.BlobID) {
	if !s.(*blob.Mem).Corrupt(id) {
		t.Fatalf("Corrupt: blob %s not stored", id)
	}
}

func TestMemContract(t *testing.T) { blobtest.Run(t, openMem) }

func TestMemCorruption(t *testing.T) { blobtest.RunCorruption(t, openMem, corruptMem) }

func TestNewMemDefaultLimit(t *testing.T) {
	b := randBytes(1<<20, 1)
	id := medledger.BlobIDOf(b)
	for _, limit := range []int64{0, -1} {
		m := blob.NewMem(limit)
		if n, err := m.Put(t.Context(), id, bytes.NewReader(b)); err != nil || n != int64(len(b)) {
			t.Errorf("NewMem(%d).Put of 1 MiB = %d, %v, want the default limit to allow it", limit, n, err)
		}
	}
	if _, err := blob.NewMem(1000).Put(t.Context(), id, bytes.NewReader(b)); !medledger.IsKind(err, medledger.KindTooLarge) {
		t.Errorf("NewMem(1000).Put of 1 MiB = %v, want kind too_large", err)
	}
}
