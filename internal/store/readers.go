package store

import (
	dbm "github.com/cosmos/iavl/db"

	"medledger/internal/state"
)

// ReaderAt returns a reader of a committed version, safe to use from any
// goroutine while the ledger works on the next version. It fails at once if
// the version is not available.
func (s *Store) ReaderAt(version int64) (state.Reader, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.immutable(version); err != nil {
		return nil, err
	}
	return versionReader{s: s, version: version}, nil
}

type versionReader struct {
	s       *Store
	version int64
}

func (r versionReader) Get(key []byte) ([]byte, error) { return r.s.GetAt(key, r.version) }

func (r versionReader) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	r.s.mu.RLock()
	defer r.s.mu.RUnlock()
	t, err := r.s.immutable(r.version)
	if err != nil {
		return err
	}
	return iterate(func(start, end []byte) (dbm.Iterator, error) { return t.Iterator(start, end, true) }, start, end, fn)
}

// IndexReader reads the secondary indexes as last flushed, from any
// goroutine: it never sees the ledger's buffered, uncommitted index writes.
func (s *Store) IndexReader() state.Reader { return flushedIndex{s.raw} }
