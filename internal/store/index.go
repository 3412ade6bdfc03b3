package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	dbm "github.com/cosmos/iavl/db"

	"medledger/internal/state"
)

// Index returns the secondary-index key space. Writes are buffered until
// Commit or FlushIndex; reads see them. Like the other working-state methods,
// it is for the ledger goroutine only.
func (s *Store) Index() state.ReadWriter { return s.index }

// IndexVersion is the version at which the index was last flushed. If it
// differs from Version() after Open, a crash hit between the tree and index
// writes of a commit, and the index must be rebuilt.
func (s *Store) IndexVersion() int64 { return s.indexVersion.Load() }

// FlushIndex writes the buffered index writes now, marking the index current
// as of Version(). It is for after a rebuild; Commit flushes by itself.
func (s *Store) FlushIndex() error { return s.flushIndex(s.Version()) }

// ResetIndex drops the buffered index writes and deletes every index key,
// setting IndexVersion to 0.
func (s *Store) ResetIndex() error {
	s.index.Discard()
	// The marker goes first, so that a crash midway still reads as stale.
	if err := s.writeBatch(func(b dbm.Batch) error {
		return b.Set(indexVersionKey, binary.BigEndian.AppendUint64(nil, 0))
	}); err != nil {
		return fmt.Errorf("store: reset index: %w", err)
	}
	s.indexVersion.Store(0)
	for {
		var keys [][]byte
		err := iterate(prefixDB{s.raw, indexPrefix}.Iterator, nil, nil, func(k, _ []byte) bool {
			keys = append(keys, indexKey(k))
			return len(keys) < 10_000
		})
		if err == nil && len(keys) > 0 {
			err = s.writeBatch(func(b dbm.Batch) error {
				for _, k := range keys {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err != nil {
			return fmt.Errorf("store: reset index: %w", err)
		}
		if len(keys) < 10_000 {
			return nil
		}
	}
}

// flushIndex writes the buffered index writes and the index-version marker
// in one batch.
func (s *Store) flushIndex(version int64) error {
	err := s.writeBatch(func(b dbm.Batch) error {
		if err := s.index.Write(batchWriter{b}); err != nil {
			return err
		}
		return b.Set(indexVersionKey, binary.BigEndian.AppendUint64(nil, uint64(version)))
	})
	if err != nil {
		return fmt.Errorf("store: flush index: %w", err)
	}
	s.indexVersion.Store(version)
	return nil
}

// writeBatch fills a batch of the raw key space and writes it, fsynced if
// Options.Sync.
func (s *Store) writeBatch(fill func(dbm.Batch) error) error {
	b := s.raw.NewBatch()
	defer b.Close()
	if err := fill(b); err != nil {
		return err
	}
	if s.opts.Sync {
		return b.WriteSync()
	}
	return b.Write()
}

// flushedIndex reads the index as last flushed from the raw key space.
type flushedIndex struct{ raw dbm.DB }

func (f flushedIndex) Get(key []byte) ([]byte, error) {
	return f.raw.Get(indexKey(key))
}

func (f flushedIndex) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	return iterate(prefixDB{f.raw, indexPrefix}.Iterator, start, end, fn)
}

func indexKey(key []byte) []byte {
	return append(append(make([]byte, 0, len(indexPrefix)+len(key)), indexPrefix...), key...)
}

// batchWriter lets state.Cache.Write fill an index batch.
type batchWriter struct{ b dbm.Batch }

func (w batchWriter) Set(key, value []byte) error {
	return w.b.Set(indexKey(key), value)
}

func (w batchWriter) Delete(key []byte) error {
	return w.b.Delete(indexKey(key))
}

var errWriteOnly = errors.New("store: index batch is write-only")

func (batchWriter) Get([]byte) ([]byte, error) { return nil, errWriteOnly }
func (batchWriter) Iterate([]byte, []byte, func(k, v []byte) bool) error {
	return errWriteOnly
}
