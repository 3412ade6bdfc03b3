package store

import (
	"github.com/cosmos/iavl"
	dbm "github.com/cosmos/iavl/db"

	"medledger/internal/state"
)

// ReaderAt returns a reader of a committed version, safe to use from any
// goroutine while the ledger works on the next version. It fails at once if
// the version is not available, and later reads fail with
// ErrVersionUnavailable if the version is pruned meanwhile.
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

// Iterate reads each chunk under the read lock and calls fn without it, so
// that fn may call back into the store, and a long iteration never holds up
// the ledger (a reader holding the lock across fn could deadlock against a
// waiting Set). It walks the tree rather than IAVL's fast index, which only
// holds the latest version and is rewritten during Commit.
func (r versionReader) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	return iterate(func(start, end []byte) (dbm.Iterator, error) {
		r.s.mu.RLock()
		t, err := r.s.immutable(r.version)
		if err != nil {
			r.s.mu.RUnlock()
			return nil, err
		}
		return unlockingIter{iavl.NewIterator(start, end, true, t), r.s.mu.RUnlock}, nil
	}, start, end, fn)
}

// unlockingIter releases a lock when closed.
type unlockingIter struct {
	dbm.Iterator
	unlock func()
}

func (u unlockingIter) Close() error {
	defer u.unlock()
	return u.Iterator.Close()
}

// IndexReader reads the secondary indexes as last flushed, from any
// goroutine: it never sees the ledger's buffered, uncommitted index writes.
func (s *Store) IndexReader() state.Reader { return flushedIndex{s.raw} }
