package state

import (
	"crypto/sha256"
	"encoding/binary"
)

// MemStore is an in-memory Committer for module tests. Its hash is sha256
// over the version and the sorted contents: deterministic, but not the IAVL
// root, and it has no proofs. internal/store has the real store.
type MemStore struct {
	*Mem
	index   *Mem
	version int64
	hash    []byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	s := &MemStore{Mem: NewMem(), index: NewMem()}
	s.hash = s.WorkingHash()
	return s
}

// Index implements Committer.
func (s *MemStore) Index() ReadWriter { return s.index }

// Version implements Committer.
func (s *MemStore) Version() int64 { return s.version }

// Hash implements Committer.
func (s *MemStore) Hash() []byte { return s.hash }

// WorkingHash implements Committer.
func (s *MemStore) WorkingHash() []byte {
	h := sha256.New()
	var n [8]byte
	s.Iterate(nil, nil, func(k, v []byte) bool {
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write(k)
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write(v)
		return true
	})
	return h.Sum(nil)
}

// Commit implements Committer.
func (s *MemStore) Commit() ([]byte, int64, error) {
	s.version++
	s.hash = s.WorkingHash()
	return s.hash, s.version, nil
}
